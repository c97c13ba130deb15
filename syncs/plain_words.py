"""Codat's messages in the words finance staff use, with what to do."""

from __future__ import annotations

import re
from datetime import date

from companies.models import Company
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


def move_to_newer_api(company: Company) -> str:
    """The fix for a company Codat no longer serves in v1: the cut-over, where support runs it."""
    return (
        f"move {company.name} to the newer Expenses API (Companies → {company.name} → Settings "
        f"→ “Move to the newer Expenses API”, or manage.py expenses_api --company {company.pk} "
        "--to expenses)"
    )


def v1_off_on(on: date) -> str:
    return f"Codat switched Sync for Expenses v1 off on {on.day} {on:%B %Y}"


def v1_switched_off(company: Company, *, on: date) -> str:
    """Why a company still on v1 cannot push from the day Codat switched v1 off."""
    return f"{v1_off_on(on)}: {move_to_newer_api(company)}."


def v1_retired_by_codat(company: Company, *, message: str) -> str:
    """A v1 call Codat answered as a retired API does (410): nothing of the push was written."""
    return (
        f"Codat switched Sync for Expenses v1 off (Codat: {message}): "
        f"{move_to_newer_api(company)}. Nothing was written: the expenses are approved again "
        "and go out through the newer API once the company is moved."
    )


# The same refusals, said of a group of failures with one cause (`syncs/causes.py`): the names
# that differ between them are already taken out of the cause.
_CAUSE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^Account .+ is not valid for transaction type"),
        "The account does not accept this type of transaction",
    ),
    (re.compile(r"^Account .+ is archived"), "The account was archived in the accounting software"),
    (
        re.compile(r"^Account .+ does not exist"),
        "The account no longer exists in the accounting software",
    ),
    (
        re.compile(r"^Tax rate .+ is (not valid|archived|does not exist)"),
        "The tax rate cannot be used any more",
    ),
    (re.compile(r"period lock date"), "The date is in a locked period"),
]
_PLACEHOLDERS = re.compile(r"<(name|id|n|amount|date)>")


def cause_in_plain_words(cause: str) -> str:
    """A failure cause (Codat's message with ids, names and amounts taken out) in the words
    finance staff use, said of a count of failures ("30 of them: the tax rate cannot be used any
    more")."""
    for pattern, words in _CAUSE_PATTERNS:
        if pattern.search(cause):
            return words
    readable = _PLACEHOLDERS.sub("…", cause).strip()
    if not readable or readable == "No reason given":
        return "Codat gave no reason"
    return f"Codat refused them: {readable.rstrip('.')}"
