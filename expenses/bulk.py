"""The queue's bulk actions: code, approve or exclude the selected expenses, each on its own,
so that one refusal never undoes the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from django.contrib.auth.models import User
from django.db import transaction

from companies.models import Company, LedgerAccount, Supplier, TaxRate, TrackingCategory
from expenses.coding import UNSET, Unset, expense_set_coding
from expenses.details import expense_set_supplier
from expenses.models import EXPENSE_TRANSITIONS, Expense, ExpenseStatus
from expenses.selectors import expenses_with_lines
from expenses.services import ExpenseRefused, expense_approve, expense_exclude
from expenses.validation import Problem


@dataclass
class BulkOutcome:
    done: int = 0
    refused: list[tuple[Expense, list[Problem]]] = field(default_factory=list)

    def summary(self, verb: str) -> str:
        text = f"{self.done} expense{'s' if self.done != 1 else ''} {verb}."
        if self.refused:
            first, problems = self.refused[0]
            text += (
                f" {len(self.refused)} refused — e.g. {first.merchant_name or first.external_id}: "
                f"{problems[0]}"
            )
        return text


def expenses_bulk_code(
    *,
    company: Company,
    expense_ids: Sequence[UUID],
    by: User,
    account: LedgerAccount | Unset | None = UNSET,
    tax_rate: TaxRate | Unset | None = UNSET,
    tracking: list[TrackingCategory] | Unset = UNSET,
    supplier: Supplier | Unset | None = UNSET,
) -> BulkOutcome:
    """Apply coding (and the supplier, when given) to each expense on its own: one refusal
    never undoes the others."""
    outcome = BulkOutcome()
    for expense in expenses_with_lines(company=company, expense_ids=expense_ids):
        try:
            with transaction.atomic():
                coding = [value for value in (account, tax_rate, tracking) if value is not UNSET]
                if coding or supplier is UNSET:
                    expense_set_coding(
                        expense=expense,
                        by=by,
                        account=account,
                        tax_rate=tax_rate,
                        tracking=tracking,
                        source="bulk",
                    )
                if supplier is not UNSET:
                    expense_set_supplier(expense=expense, supplier=supplier, by=by)
        except ExpenseRefused as refused:
            outcome.refused.append((expense, refused.problems))
        else:
            outcome.done += 1
    return outcome


def expenses_bulk_approve(
    *, company: Company, expense_ids: Sequence[UUID], by: User
) -> BulkOutcome:
    outcome = BulkOutcome()
    for expense in expenses_with_lines(company=company, expense_ids=expense_ids):
        if expense.status == ExpenseStatus.APPROVED:
            continue
        try:
            expense_approve(expense=expense, by=by)
        except ExpenseRefused as refused:
            outcome.refused.append((expense, refused.problems))
        else:
            outcome.done += 1
    return outcome


def expenses_bulk_exclude(
    *, company: Company, expense_ids: Sequence[UUID], by: User
) -> BulkOutcome:
    outcome = BulkOutcome()
    for expense in expenses_with_lines(company=company, expense_ids=expense_ids):
        if expense.status == ExpenseStatus.EXCLUDED:
            continue
        if ExpenseStatus.EXCLUDED not in EXPENSE_TRANSITIONS.get(expense.status, ()):
            outcome.refused.append(
                (
                    expense,
                    [
                        Problem(
                            "status",
                            f"An expense that is {expense.get_status_display().lower()} "
                            "cannot be excluded.",
                            "Only expenses not yet pushed can be excluded.",
                        )
                    ],
                )
            )
            continue
        expense_exclude(expense=expense, by=by)
        outcome.done += 1
    return outcome
