"""Validation in one place: every rule names the field and the fix."""

from decimal import Decimal

import pytest
from django.utils import timezone

from companies.models import CompanyConfiguration, SourceStatus
from companies.platforms import Platform
from expenses.coding import LineInput, expense_set_lines
from expenses.services import expense_readiness
from expenses.validation import company_context, expense_problems
from tests.expenses.conftest import make_books
from tests.factories import (
    ExpenseFactory,
    LedgerAccountFactory,
    SupplierFactory,
    TrackingCategoryFactory,
)

pytestmark = pytest.mark.django_db


def _coded(books, **fields):
    lines = fields.pop("lines", None)
    expense = ExpenseFactory(company=books.company, amount=Decimal("12.00"), **fields)
    expense_set_lines(
        expense=expense,
        lines=lines or [LineInput(Decimal("10.00"), Decimal("2.00"), books.travel, books.vat)],
        by=None,
    )
    expense.refresh_from_db()
    return expense


def _fields(expense):
    return {p.field for p in expense_readiness(expense)}


def test_fully_coded_expense_has_no_problems(books):
    assert expense_readiness(_coded(books)) == []


def test_uncoded_expense_asks_for_an_account(books):
    expense = ExpenseFactory(company=books.company)

    [problem] = expense_readiness(expense)

    assert problem.field == "lines"
    assert "Choose an account" in problem.fix


def test_account_must_accept_the_type(books):
    expense = _coded(books, type="Reward")

    problem = next(p for p in expense_readiness(expense) if p.field == "lines[0].account")
    assert problem.message == "Account 'Travel' does not accept Reward transactions."
    assert "accepts Reward" in problem.fix


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"status": SourceStatus.ARCHIVED}, "is archived"),
        ({"is_deleted": True}, "was deleted"),
        ({"missing_since": timezone.now()}, "no longer exists"),
    ],
)
def test_account_must_still_be_usable(books, change, words):
    expense = _coded(books)
    for name, value in change.items():
        setattr(books.travel, name, value)
    books.travel.save()

    problem = next(p for p in expense_readiness(expense) if p.field == "lines[0].account")
    assert words in problem.message


def test_tax_rate_required_except_for_transfers(books):
    payment = _coded(books, lines=[LineInput(Decimal("12.00"), Decimal(0), books.travel, None)])
    savings = LedgerAccountFactory(
        company=books.company, is_bank_account=True, valid_transaction_types=["TransferIn"]
    )
    transfer = _coded(
        books, type="TransferIn", lines=[LineInput(Decimal("12.00"), Decimal(0), savings, None)]
    )

    assert "lines[0].tax_rate" in _fields(payment)
    assert _fields(transfer) == set()


def test_tax_rate_must_be_valid_for_the_type(books):
    books.vat.valid_transaction_types = ["Payment"]
    books.vat.save()

    assert "lines[0].tax_rate" in _fields(_coded(books, type="Refund"))
    assert _fields(_coded(books, type="Payment")) == set()


def test_lines_must_add_up_to_the_total(books):
    expense = _coded(
        books,
        lines=[
            LineInput(Decimal("5.00"), Decimal("1.00"), books.travel, books.vat),
            LineInput(Decimal("5.00"), Decimal("0.00"), books.meals, books.no_tax),
        ],
    )

    [problem] = expense_readiness(expense)
    assert problem.field == "lines"
    assert problem.message == "The lines add up to 11.00 GBP but the expense is 12.00 GBP."


def test_at_most_ten_tracking_categories_per_line(books):
    many = [TrackingCategoryFactory(company=books.company) for _ in range(11)]
    expense = _coded(
        books, lines=[LineInput(Decimal("10.00"), Decimal("2.00"), books.travel, books.vat, many)]
    )

    assert "lines[0].tracking" in _fields(expense)


def test_archived_tracking_category_is_refused(books, tracking):
    tracking.status = SourceStatus.ARCHIVED
    tracking.save()
    expense = _coded(
        books,
        lines=[LineInput(Decimal("10.00"), Decimal("2.00"), books.travel, books.vat, [tracking])],
    )

    [problem] = expense_readiness(expense)
    assert problem.message == "Tracking category 'Sales' is archived in the accounting software."


@pytest.mark.parametrize(
    ("platform", "unsupported"),
    [
        (Platform.NETSUITE, "Reward"),
        (Platform.NETSUITE, "TransferIn"),
        (Platform.DYNAMICS_365, "AdjustmentOut"),
        (Platform.DYNAMICS_365, "TransferOut"),
    ],
)
def test_type_must_be_supported_by_the_platform(platform, unsupported):
    books = make_books(platform=platform)
    expense = ExpenseFactory(company=books.company, type=unsupported)

    problem = next(p for p in expense_readiness(expense) if p.field == "type")
    assert f"does not accept {expense.get_type_display()} transactions" in problem.message
    assert "Exclude" in problem.fix


def test_foreign_currency_needs_a_rate(books):
    expense = _coded(books, currency="EUR")

    problem = next(p for p in expense_readiness(expense) if p.field == "currency_rate")
    assert problem.fix == (
        "Enter what 1 EUR is worth in GBP (the amount in GBP is the EUR amount times the rate)."
    )
    expense.currency_rate = Decimal("1.17")
    assert "currency_rate" not in _fields(expense)


@pytest.mark.parametrize(
    ("platform", "card", "spend", "allowed"),
    [
        (Platform.XERO, "USD", "EUR", True),
        (Platform.QUICKBOOKS_ONLINE, "GBP", "USD", True),
        (Platform.QUICKBOOKS_ONLINE, "USD", "GBP", False),
        (Platform.DYNAMICS_365, "GBP", "USD", False),
        (Platform.DYNAMICS_365, "USD", "USD", True),
        (Platform.NETSUITE, "GBP", "USD", True),
        (Platform.NETSUITE, "USD", "USD", False),
        (Platform.NETSUITE, "USD", "EUR", False),
    ],
)
def test_currency_matrix_per_platform(platform, card, spend, allowed):
    books = make_books(platform=platform, card_currency=card)
    expense = _coded(books, currency=spend, currency_rate=Decimal("1.25"))

    assert ("currency" not in _fields(expense)) is allowed


def test_missing_bank_account_is_a_configuration_problem(books):
    CompanyConfiguration.objects.filter(company=books.company).update(bank_account=None)

    problem = next(p for p in expense_readiness(_coded(books)) if p.field == "configuration")
    assert "default bank account" in problem.message


def test_dynamics_needs_a_default_supplier_and_takes_no_override():
    books = make_books(platform=Platform.DYNAMICS_365, supplier=None)
    expense = _coded(books)
    expense.supplier_override = SupplierFactory(company=books.company)

    problems = expense_readiness(expense)
    assert any("needs a default supplier" in p.message for p in problems)
    assert any(p.field == "supplier_override" and "per transaction" in p.message for p in problems)


def test_xero_refund_uses_the_customer_so_supplier_override_does_not_apply(books):
    expense = _coded(books, type="Refund")
    expense.supplier_override = SupplierFactory(company=books.company)

    problem = next(p for p in expense_readiness(expense) if p.field == "supplier_override")
    assert "customer" in problem.message


def test_supplier_override_must_trade_in_the_expense_currency(books):
    expense = _coded(books)
    expense.supplier_override = SupplierFactory(company=books.company, default_currency="USD")

    assert "supplier_override" in _fields(expense)


def test_validation_makes_no_queries(books, django_assert_num_queries):
    expense = _coded(books)
    ctx = company_context(company=books.company)
    lines = list(
        expense.lines.select_related("account", "tax_rate").prefetch_related("tracking_categories")
    )
    expense = type(expense).objects.select_related("supplier_override").get(pk=expense.pk)

    with django_assert_num_queries(0):
        assert expense_problems(expense, lines, ctx) == []


def test_default_supplier_must_trade_in_the_booked_currency():
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE)
    config = books.company.configuration
    config.supplier.default_currency = "USD"
    config.supplier.save()

    problem = next(p for p in expense_readiness(_coded(books)) if p.field == "supplier_override")

    assert "trades in USD only, and this expense is booked in GBP" in problem.message


def test_a_transfer_cannot_go_to_the_cards_own_account(books):
    expense = _coded(
        books, type="TransferOut", lines=[LineInput(Decimal("12.00"), Decimal(0), books.card, None)]
    )

    problem = next(p for p in expense_readiness(expense) if p.field == "lines[0].account")

    assert "the card's own account" in problem.message
