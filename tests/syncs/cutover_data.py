"""Companies with v1 history for the cut-over's tests: expenses of the types v1 takes and the
newer Expenses API refuses, coded so that v1 would send them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from companies.models import Company, LedgerAccount
from expenses.models import Expense, ExpenseStatus
from expenses.services import expense_readiness
from expenses.validation import company_context
from tests.factories import ExpenseFactory, ExpenseLineFactory, LedgerAccountFactory
from tests.syncs.dashboard_data import coded_expense, pushable_company


def other_side(books: Any, name: str = "Suspense") -> LedgerAccount:
    """An account that takes the types v1 books against the card's other side."""
    return LedgerAccountFactory(
        company=books.company,
        name=name,
        account_type="Liability",
        valid_transaction_types=["TransferIn", "TransferOut", "AdjustmentIn", "AdjustmentOut"],
    )


def coded_as(books: Any, *, status: str, type: str, account: LedgerAccount) -> Expense:
    """An expense of `type` coded on `account`, valid in v1."""
    expense = ExpenseFactory(
        company=books.company,
        status=status,
        type=type,
        amount=Decimal("12.00"),
        approved_at=timezone.now(),
    )
    ExpenseLineFactory(
        expense=expense,
        account=account,
        tax_rate=None if type.startswith("Transfer") else books.no_tax,
        net_amount=Decimal("12.00"),
        tax_amount=Decimal("0.00"),
    )
    assert expense_readiness(expense, company_context(company=books.company)) == []
    return expense


def v1_company_with_an_adjustment() -> Any:
    """Harbour Coffee Ltd on Xero and v1, with an approved payment and an approved AdjustmentIn
    (`books.adjustment`)."""
    books = pushable_company(name="Harbour Coffee Ltd")
    coded_expense(books, status=ExpenseStatus.APPROVED)
    books.adjustment = coded_as(
        books, status=ExpenseStatus.APPROVED, type="AdjustmentIn", account=other_side(books)
    )
    return books


def speaks(company: Company) -> str:
    return Company.objects.values_list("expenses_api", flat=True).get(pk=company.pk)


def status_of(expense: Expense) -> str:
    return Expense.objects.values_list("status", flat=True).get(pk=expense.pk)
