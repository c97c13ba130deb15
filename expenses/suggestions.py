"""Coding suggestions from the company's own history, for merchants no rule covers.

For each uncategorized expense the suggestion is the most frequent (account, tax rate, tracking
set) on the first line of the company's already coded expenses with the same normalised
merchant name, skipping any coding whose records are no longer usable or whose account does not
accept the expense's type. A whole queue page costs a fixed number of queries: the active rules,
and one query over the past lines of the page's merchants and their tracking categories (a few
recent lines per merchant, found by `Expense.merchant_key`).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from companies.models import Company, LedgerAccount, TaxRate, TrackingCategory
from expenses import fast_sql
from expenses.models import (
    CODED_STATUSES,
    CategorizationRule,
    Expense,
    ExpenseLine,
    ExpenseStatus,
)

if TYPE_CHECKING:
    from expenses.selectors import CodingChoices

# The most recent codings of a merchant are what finance staff would repeat: each merchant's
# HISTORY_PER_MERCHANT most recently dated coded expenses are read, however old the company.
HISTORY_PER_MERCHANT = 25

_Coding = tuple[int, int | None, frozenset[int]]


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
    wanted = [e for e in expenses if e.status == ExpenseStatus.UNCATEGORIZED and e.merchant_key]
    if not wanted:
        return {}
    rules = list(
        CategorizationRule.objects.filter(company=company, is_active=True).order_by(
            "priority", "id"
        )
    )
    # A merchant a rule covers is coded by the rule; suggesting otherwise would contradict it.
    wanted = [e for e in wanted if not any(rule.matches(e) for rule in rules)]
    if not wanted:
        return {}
    history = _history(company, {e.merchant_key for e in wanted})

    accounts = {a.pk: a for a in choices.accounts}
    tax_rates = {t.pk: t for t in choices.tax_rates}
    tracking = {c.pk: c for group in choices.tracking_groups for c in group.options}
    suggestions: dict[uuid.UUID, Suggestion] = {}
    for expense in wanted:
        for (account_id, tax_id, tracking_ids), uses in history.get(
            expense.merchant_key, Counter()
        ).most_common():
            account = accounts.get(account_id)
            if account is None or not account.accepts(expense.type, company.expenses_api):
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


_Row = tuple[int, str, int, int | None, int | None]


def coded_history_rows(*, company_id: int, keys: Sequence[str], per_merchant: int) -> list[_Row]:
    """(line id, merchant key, account id, tax rate id, tracking category id or None) of the
    first lines of each key's `per_merchant` most recently dated coded expenses, newest first;
    a line with several tracking categories comes once per category.

    The ORM's version: a window numbers each merchant's coded expenses. PostgreSQL reads the
    same rows with `expenses.fast_sql.coded_history_rows`."""
    recent = Window(
        RowNumber(),
        partition_by=[F("merchant_key")],
        order_by=[F("issue_date").desc(), F("id").desc()],
    )
    ids = (
        Expense.objects.filter(
            company_id=company_id, status__in=CODED_STATUSES, merchant_key__in=keys
        )
        .annotate(recent=recent)
        .filter(recent__lte=per_merchant)
        .values("id")
    )
    return list(
        ExpenseLine.objects.filter(expense_id__in=ids, position=0, account__isnull=False)
        .order_by("-expense__issue_date", "-expense_id")
        .values_list(
            "id", "expense__merchant_key", "account_id", "tax_rate_id", "tracking_categories"
        )
    )


def _history(company: Company, keys: set[str]) -> dict[str, Counter[_Coding]]:
    """How often each coding was used per merchant key, over its recent coded expenses."""
    lines: dict[int, tuple[str, int, int | None]] = {}
    tracking_of: dict[int, set[int]] = defaultdict(set)
    read = fast_sql.coded_history_rows if connection.vendor == "postgresql" else coded_history_rows
    rows = read(company_id=company.pk, keys=sorted(keys), per_merchant=HISTORY_PER_MERCHANT)
    for line_id, key, account_id, tax_id, category_id in rows:
        lines.setdefault(line_id, (key, account_id, tax_id))
        if category_id is not None:
            tracking_of[line_id].add(category_id)

    history: dict[str, Counter[_Coding]] = defaultdict(Counter)
    # Lines come newest first (dicts keep that order) and Counter keeps first-seen order among
    # equals, so a tie goes to the coding used most recently.
    for line_id, (key, account_id, tax_id) in lines.items():
        history[key][(account_id, tax_id, frozenset(tracking_of.get(line_id, ())))] += 1
    return history
