"""After a refresh: expenses not yet synced whose coding points at something the ledger no longer
offers (vanished, archived or deleted accounts, tax rates or tracking categories, or an account
that stopped accepting the expense's type) go back to To categorize with the reason.

The companies app pulls the master data and cannot import expenses (it is the lower layer): it
announces each pull with `companies.signals.master_data_pulled`, connected to
`recheck_on_master_data_pulled` when the app is ready (`expenses/apps.py`).

Before a company moves to another generation of Codat's expenses API: the approved and failed
expenses that generation's rules refuse (`expenses_refused_under`), and sending them back to
coding with the reason (`expenses_send_back`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib.auth.models import User
from django.db.models import Prefetch, Q

from companies.models import Company, LedgerAccount, TaxRate, TrackingCategory
from companies.platforms import TransactionType
from expenses.models import Expense, ExpenseLine, ExpenseStatus
from expenses.services import (
    expense_readiness,
    expense_refresh_readiness,
    expenses_bulk_transition,
)
from expenses.validation import company_context

# Not yet in a sync: what a refresh may still send back for recoding.
OPEN_STATUSES = (
    ExpenseStatus.UNCATEGORIZED,
    ExpenseStatus.CATEGORIZED,
    ExpenseStatus.APPROVED,
    ExpenseStatus.FAILED,
)


def recheck_on_master_data_pulled(sender: object, *, company: Company, **_: object) -> None:
    """Receiver of `master_data_pulled`: the pull has stored the company's master data."""
    company_recheck_expenses(company=company)


def _unusable() -> Q:
    return ~Q(status="Active") | Q(is_deleted=True) | Q(missing_since__isnull=False)


def _with_lines(ids: Iterable[Any]) -> list[Expense]:
    """The expenses with what validation reads, their lines in one prefetch."""
    return list(
        Expense.objects.filter(pk__in=ids)
        .select_related("company", "supplier_override")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ExpenseLine.objects.select_related("account", "tax_rate")
                .prefetch_related("tracking_categories")
                .order_by("position"),
            )
        )
        .order_by("pk")
    )


def company_recheck_expenses(*, company: Company) -> int:
    """Recheck the open expenses a refresh may have broken (and those flagged before, which a
    refresh may have fixed). Returns how many were rechecked.

    Candidates are found with one query; their lines come in one prefetch and the company's
    validation context is built once, so there are no queries per line.
    """
    accounts = LedgerAccount.objects.filter(company=company)
    bad_accounts = accounts.filter(_unusable()).values("pk")
    bad_taxes = TaxRate.objects.filter(company=company).filter(_unusable()).values("pk")
    bad_tracking = TrackingCategory.objects.filter(company=company).filter(_unusable()).values("pk")
    wrong_type = Q()
    for account in accounts.only("pk", "valid_transaction_types", "valid_for"):
        # What the account takes in the company's generation (`validFor` in the newer).
        taken = [t for t in TransactionType if account.accepts(t, company.expenses_api)]
        wrong_type |= Q(lines__account_id=account.pk) & ~Q(type__in=taken)
    affected = (
        Q(lines__account__in=bad_accounts)
        | Q(lines__tax_rate__in=bad_taxes)
        | Q(lines__tracking_categories__in=bad_tracking)
        | wrong_type
        | ~Q(needs_recoding_reason="")
    )
    candidate_ids = (
        Expense.objects.filter(company=company, status__in=OPEN_STATUSES)
        .filter(affected)
        .values("pk")
        .distinct()
    )
    expenses = _with_lines(candidate_ids)
    ctx = company_context(company=company)
    count = 0
    for expense in expenses:
        count += 1
        if expense.status == ExpenseStatus.FAILED:
            # A failed expense stays in Failed (its Codat message matters) unless its coding is
            # now wrong, in which case it must be recoded before anything is sent again.
            problems = expense_readiness(expense, ctx)
            expense_refresh_readiness(expense=expense, ctx=ctx, edited=bool(problems))
            continue
        expense_refresh_readiness(expense=expense, ctx=ctx)
    return count


# What a move between generations re-validates: what the next push would claim (approved) or
# send again once retried (failed). Synced expenses and those on their way are never read.
REVALIDATED = (ExpenseStatus.APPROVED, ExpenseStatus.FAILED)
# Expenses read and checked per query while re-validating.
REVALIDATE_CHUNK = 1000


@dataclass(frozen=True)
class RefusedExpense:
    """An approved or failed expense a generation's rules refuse, with the first reason."""

    expense_id: UUID
    status: str
    label: str  # how the expense is named in a report: merchant, amount, type, date
    reason: str  # the first problem and its fix


def expenses_refused_under(*, company: Company, api: str) -> list[RefusedExpense]:
    """The company's approved and failed expenses that the rules of generation `api` refuse,
    in id order. Reads only: a thousand expenses and their lines a few queries at a time."""
    ctx = company_context(company=company, api=api)
    ids = list(
        Expense.objects.filter(company=company, status__in=REVALIDATED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    refused = []
    for start in range(0, len(ids), REVALIDATE_CHUNK):
        for expense in _with_lines(ids[start : start + REVALIDATE_CHUNK]):
            problems = expense_readiness(expense, ctx)
            if problems:
                refused.append(
                    RefusedExpense(
                        expense_id=expense.pk,
                        status=expense.status,
                        label=_label(expense),
                        reason=str(problems[0]),
                    )
                )
    return refused


def _label(expense: Expense) -> str:
    name = expense.merchant_name or expense.external_id
    kind = TransactionType(expense.type).label
    return f"{name} · {expense.amount} {expense.currency} · {kind} · {expense.issue_date:%d %b %Y}"


def expenses_send_back(
    *,
    refused: Sequence[RefusedExpense],
    why: str,
    by: User | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Move the `refused` expenses still approved or failed to To categorize, each with
    `why: <its reason>` on its trail and its reason as what needs recoding; how many moved.

    Expenses of one status and reason move together (`expenses_bulk_transition`), so a thousand
    AdjustmentIns refused alike are one statement, not a thousand."""
    groups: dict[tuple[str, str], list[UUID]] = defaultdict(list)
    for item in refused:
        groups[(item.status, item.reason)].append(item.expense_id)
    moved = 0
    for (status, reason), ids in groups.items():
        moved += len(
            expenses_bulk_transition(
                expense_ids=ids,
                current=ExpenseStatus(status),
                to=ExpenseStatus.UNCATEGORIZED,
                by=by,
                message=f"{why}: {reason}",
                data=data,
                extra={"needs_recoding_reason": reason[:500]},
            )
        )
    return moved
