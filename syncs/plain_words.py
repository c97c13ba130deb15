"""Codat's messages in the words finance staff use, with what to do."""

from __future__ import annotations

import re

from companies.platforms import TransactionType
from expenses.models import Expense

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Codat's duplicate protection (5080) stops a whole sync. Those it left unprocessed quote
    # its sentence naming the others, so they are matched first.
    (
        re.compile(r"^Not processed: the sync was stopped by duplicate protection"),
        "It was not written: another expense of the same sync had been written before, and "
        "Codat's duplicate protection stopped the whole sync — push it again.",
    ),
    (
        re.compile(r"previously been processed"),
        "Codat says this expense was written to the ledger before — check the ledger before "
        "sending it again; support can mark it as synced.",
    ),
    (
        re.compile(r"Account (?P<account>.+?) is not valid for transaction type (?P<type>\w+)"),
        "Account {account} does not accept {type_label} transactions — choose an account "
        "valid for {type_label} and approve again.",
    ),
    (
        re.compile(r"Account (?P<account>.+?) is archived"),
        "Account {account} was archived in the accounting software — choose another account "
        "and approve again.",
    ),
    (
        re.compile(r"Account (?P<account>.+?) does not exist"),
        "Account {account} no longer exists in the accounting software — choose another "
        "account and approve again.",
    ),
    (
        re.compile(r"Tax rate (?P<rate>.+?) is (not valid|archived|does not exist)"),
        "Tax rate {rate} cannot be used any more — choose another tax rate and approve again.",
    ),
    (
        re.compile(r"period lock date"),
        "The accounting period is locked for this date — ask the accountant to reopen it, or "
        "exclude the expense.",
    ),
]


def plain_words(message: str, expense: Expense) -> str:
    """Codat's message, translated where we know it, always followed by Codat's own words."""
    type_label = TransactionType(expense.type).label
    for pattern, template in _PATTERNS:
        match = pattern.search(message)
        if match:
            words = template.format(type_label=type_label, **match.groupdict())
            return f"{words} (Codat: {message})"
    return f"Codat refused it: {message}" if message else "Codat gave no reason."
