"""Coding suggestions from the company's own history, for merchants no rule covers.

For each uncategorized expense the suggestion is the most frequent (account, tax rate, tracking
set) on the first line of the company's already coded expenses with the same normalised
merchant name, skipping any coding whose records are no longer usable or whose account does not
accept the expense's type. A whole queue page costs a fixed number of queries: the active rules,
one windowed query over past lines, and one for their tracking categories.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING

from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber

from companies.models import Company, LedgerAccount, TaxRate, TrackingCategory
from expenses.models import CategorizationRule, Expense, ExpenseLine, ExpenseStatus
from expenses.services import rule_first_match

if TYPE_CHECKING:
    from expenses.selectors import CodingChoices

# Expenses whose coding someone accepted: past the queue, whether pushed yet or not.
HISTORY_STATUSES = (
    ExpenseStatus.CATEGORIZED,
    ExpenseStatus.APPROVED,
    ExpenseStatus.PUSHING,
    ExpenseStatus.SYNCING,
    ExpenseStatus.SYNCED,
)
# Bounds that keep a page's history read small however old the company is: the most recent
# codings of each merchant spelling are what finance staff would repeat; only the company's
# HISTORY_SCAN most recent coded expenses are read, and never more than HISTORY_LIMIT lines.
HISTORY_PER_MERCHANT = 50
HISTORY_SCAN = 2_000
HISTORY_LIMIT = 2_000

_SPACES = re.compile(r"\s+")
# "Uber #1234", "TESCO STORES 3021", "Shell 0042": the number names a branch, not a merchant.
# A word of its own ("Casino 5" keeps "casino"), or glued on after a "#".
_STORE_NUMBER = re.compile(r"(?:(?:^|\s+)(?:#\s*|no\.?\s*)?|#)\d+$")

_Coding = tuple[int, int | None, frozenset[int]]


def merchant_key(name: str) -> str:
    """A merchant name as history groups it: casefolded, trimmed, one space between words,
    without a trailing store number (unless the name is nothing but digits)."""
    text = _SPACES.sub(" ", name.casefold()).strip()
    return _STORE_NUMBER.sub("", text).strip() or text


@dataclass(frozen=True)
class Suggestion:
    account: LedgerAccount
    tax_rate: TaxRate | None
    tracking: tuple[TrackingCategory, ...]
    uses: int  # how many past expenses of this merchant were coded exactly like this

    @property
    def label(self) -> str:
        parts = [str(self.account), str(self.tax_rate) if self.tax_rate else "no tax rate"]
        parts += [category.name for category in self.tracking]
        return " · ".join(parts)


def expense_suggestions(
    *, company: Company, expenses: Sequence[Expense], choices: CodingChoices
) -> dict[uuid.UUID, Suggestion]:
    """Suggestions for the uncategorized expenses among `expenses` that no active rule matches,
    keyed by expense id. `choices` are the company's usable records: only those are suggested.
    """
    wanted = [
        e for e in expenses if e.status == ExpenseStatus.UNCATEGORIZED and e.merchant_name.strip()
    ]
    if not wanted:
        return {}
    rules = list(
        CategorizationRule.objects.filter(company=company, is_active=True).order_by(
            "priority", "id"
        )
    )
    # A merchant a rule covers is coded by the rule; suggesting otherwise would contradict it.
    wanted = [e for e in wanted if rule_first_match(rules, e) is None]
    if not wanted:
        return {}
    history = _history(company, {merchant_key(e.merchant_name) for e in wanted})

    accounts = {a.pk: a for a in choices.accounts}
    tax_rates = {t.pk: t for t in choices.tax_rates}
    tracking = {c.pk: c for group in choices.tracking_groups for c in group.options}
    suggestions: dict[uuid.UUID, Suggestion] = {}
    for expense in wanted:
        for (account_id, tax_id, tracking_ids), uses in history.get(
            merchant_key(expense.merchant_name), Counter()
        ).most_common():
            account = accounts.get(account_id)
            if account is None or not account.accepts(expense.type):
                continue
            if tax_id is not None and tax_id not in tax_rates:
                continue
            if not tracking_ids <= tracking.keys():
                continue
            suggestions[expense.pk] = Suggestion(
                account=account,
                tax_rate=tax_rates[tax_id] if tax_id is not None else None,
                tracking=tuple(sorted((tracking[t] for t in tracking_ids), key=str)),
                uses=uses,
            )
            break
    return suggestions


def _history(company: Company, keys: set[str]) -> dict[str, Counter[_Coding]]:
    """How often each coding was used per merchant key, over the bounded recent history."""
    # The database cannot normalise names the way merchant_key does, so it narrows by the first
    # word and Python groups exactly; the window keeps each spelling to its recent codings.
    prefixes = {key.split(" ", 1)[0] for key in keys}
    spelled = reduce(or_, (Q(merchant_name__istartswith=p) for p in prefixes))
    # Only the company's HISTORY_SCAN most recently dated coded expenses are read (an index
    # scan that stops there), so a page costs the same at 2,000 expenses or 200,000.
    recent_ids = (
        Expense.objects.filter(
            pk__in=Expense.objects.filter(company=company, status__in=HISTORY_STATUSES)
            .order_by("-issue_date", "-id")
            .values("id")[:HISTORY_SCAN]
        )
        .filter(spelled)
        .values("id")
    )
    recent = Window(
        RowNumber(),
        partition_by=[F("expense__merchant_name")],
        order_by=[F("expense__issue_date").desc(), F("expense_id").desc()],
    )
    lines = list(
        ExpenseLine.objects.filter(expense_id__in=recent_ids, position=0, account__isnull=False)
        .annotate(recent=recent)
        .filter(recent__lte=HISTORY_PER_MERCHANT)
        .order_by("-expense__issue_date", "-expense_id")
        .values_list("id", "expense__merchant_name", "account_id", "tax_rate_id")[:HISTORY_LIMIT]
    )
    if not lines:
        return {}
    through = ExpenseLine.tracking_categories.through
    tracking_of: dict[int, set[int]] = defaultdict(set)
    for line_id, category_id in through.objects.filter(
        expenseline_id__in=[line[0] for line in lines]
    ).values_list("expenseline_id", "trackingcategory_id"):
        tracking_of[line_id].add(category_id)

    history: dict[str, Counter[_Coding]] = defaultdict(Counter)
    # Lines come newest first and Counter keeps first-seen order among equals, so a tie goes
    # to the coding used most recently.
    for line_id, merchant, account_id, tax_id in lines:
        key = merchant_key(merchant)
        if key in keys and account_id is not None:
            history[key][(account_id, tax_id, frozenset(tracking_of.get(line_id, ())))] += 1
    return history
