"""Codat's currencyRate is what one foreign unit is worth in the base currency: the base amount
is the foreign amount times the rate. The form, the API, the CSV import, the validation and the
ledger preview all read it that way (the six example rows of the v1 OpenAPI document)."""

import importlib
import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from companies.models import Role
from companies.platforms import Platform
from expenses.coding import LineInput, expense_set_lines
from expenses.csv_import import expenses_import_csv
from expenses.details import expense_update_details
from expenses.ingest import expenses_ingest
from expenses.ledger import expense_ledger_reading, expense_to_transaction, ledger_lines
from expenses.models import EventKind, Expense, ExpenseEvent, ExpenseSource, ExpenseStatus
from expenses.services import expense_approve, expense_readiness
from expenses.validation import company_context
from tests.expenses.conftest import make_books
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

# (base, foreign, foreign amount, rate, base amount): Codat-Sync-Expenses-v1.json, currencyRate.
SPEC_ROWS = [
    ("GBP", "USD", "20.00", "0.781", "15.62"),
    ("GBP", "EUR", "20.00", "0.885", "17.70"),
    ("GBP", "RUB", "20.00", "0.011", "0.22"),
    ("USD", "GBP", "20.00", "1.277", "25.54"),
    ("USD", "EUR", "20.00", "1.134", "22.68"),
    ("USD", "RUB", "20.00", "0.015", "0.30"),
]


def _coded(books, **fields):
    expense = Expense.objects.create(
        company=books.company,
        external_id=f"x-{Expense.objects.count()}",
        type="Payment",
        issue_date="2026-11-02",
        amount=Decimal(fields.pop("amount", "20.00")),
        **fields,
    )
    expense_set_lines(
        expense=expense,
        lines=[LineInput(expense.amount, Decimal(0), books.travel, books.no_tax)],
        by=None,
    )
    return Expense.objects.select_related("company", "supplier_override").get(pk=expense.pk)


def _reading(books, expense):
    ctx = company_context(company=books.company)
    return expense_ledger_reading(expense=expense, lines=ledger_lines(expense=expense), ctx=ctx)


@pytest.mark.parametrize(("base", "foreign", "amount", "rate", "in_base"), SPEC_ROWS)
def test_the_preview_multiplies_the_amount_by_the_rate(base, foreign, amount, rate, in_base):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE, base=base, card_currency=base)
    expense = _coded(books, currency=foreign, amount=amount, currency_rate=Decimal(rate))

    reading = _reading(books, expense)

    assert (
        f"At 1 {foreign} = {rate} {base}, that is {in_base} {base} in the company's base currency."
        in reading
    )


@pytest.mark.parametrize(("base", "foreign", "amount", "rate", "in_base"), SPEC_ROWS)
def test_validation_accepts_the_rate_and_asks_for_it_the_same_way(
    base, foreign, amount, rate, in_base
):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE, base=base, card_currency=base)
    with_rate = _coded(books, currency=foreign, amount=amount, currency_rate=Decimal(rate))
    without = _coded(books, currency=foreign, amount=amount)

    assert expense_readiness(with_rate) == []
    [problem] = expense_readiness(without)
    assert problem.field == "currency_rate"
    assert problem.fix == (
        f"Enter what 1 {foreign} is worth in {base} (the amount in {base} is the {foreign} "
        "amount times the rate)."
    )


def test_the_rate_is_sent_to_codat_as_entered(db):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE)
    expense = _coded(books, currency="USD", currency_rate=Decimal("0.781"))
    ctx = company_context(company=books.company)

    payload = expense_to_transaction(
        expense=expense, lines=ledger_lines(expense=expense), ctx=ctx
    ).to_api()

    assert payload["currencyRate"] == 0.781


def test_a_base_currency_expense_on_a_foreign_card_reads_the_rate_per_card_unit(db):
    books = make_books(platform=Platform.XERO, card_currency="USD")
    expense = _coded(books, currency="GBP", currency_rate=Decimal("0.79"))

    assert "The card account is in USD; the rate 1 USD = 0.79 GBP goes with it." in _reading(
        books, expense
    )


def test_a_rate_means_the_same_through_the_form_the_api_and_the_csv(client, db):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE)  # base GBP
    item = {"type": "Payment", "issue_date": "2026-11-02", "currency": "USD", "amount": "20.00"}
    [from_api] = expenses_ingest(
        company=books.company,
        items=[{**item, "external_id": "api-1", "currency_rate": "0.781"}],
        source=ExpenseSource.API,
        by=None,
    )
    csv = SimpleUploadedFile(
        "spend.csv",
        b"external_id,type,issue_date,currency,amount,currency_rate\r\n"
        b"csv-1,Payment,2026-11-02,USD,20.00,0.781\r\n",
    )
    expenses_import_csv(company=books.company, upload=csv, by=None)
    typed = _coded(books, currency="USD")
    membership = MembershipFactory(company=books.company, role=Role.APPROVER)
    client.force_login(membership.user)
    response = client.post(
        reverse("expense-details", args=[books.company.pk, typed.pk]),
        {"notes": "", "currency_rate": "0.781", "supplier_override": ""},
    )
    assert response.status_code == 302

    for expense in Expense.objects.filter(currency="USD"):
        expense_set_lines(
            expense=expense,
            lines=[LineInput(expense.amount, Decimal(0), books.travel, books.no_tax)],
            by=None,
        )
        expense = Expense.objects.select_related("company", "supplier_override").get(pk=expense.pk)
        assert expense.currency_rate == Decimal("0.781"), expense.source
        assert "At 1 USD = 0.781 GBP, that is 15.62 GBP in the company's base currency." in (
            _reading(books, expense)
        )
    assert Expense.objects.filter(currency="USD").count() == 3
    assert from_api.outcome == "created"


def test_the_expense_page_asks_for_the_rate_in_the_base_currency(client, db):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE)
    expense = _coded(books, currency="USD", currency_rate=Decimal("0.781"))
    membership = MembershipFactory(company=books.company, role=Role.APPROVER)
    client.force_login(membership.user)

    body = client.get(reverse("expense-detail", args=[books.company.pk, expense.pk])).content
    text = body.decode()

    assert "Currency rate: 1 USD = ? GBP" in text
    assert "What 1 USD is worth in GBP" in text
    assert "At the saved rate this expense is <strong>15.62 GBP</strong>." in text
    assert "make one" not in text


# --- Rates typed under the old label ----------------------------------------------------------


def _flag():
    migration = importlib.import_module("expenses.migrations.0011_currency_rate_to_check")
    migration.flag_rates_typed_under_the_old_label(apps, None)


def _typed_in_the_portal(expense, rate, by=None):
    """The trail entry the expense page wrote when the rate was saved there."""
    ExpenseEvent.objects.create(
        expense=expense,
        actor=by,
        kind=EventKind.CODED,
        message="Changed currency rate",
        data={"before": {"currency_rate": None}, "after": {"currency_rate": str(rate)}},
    )


def test_unsent_rates_typed_in_the_portal_are_flagged_with_the_reason_not_changed(db):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE)
    approved = _coded(books, currency="USD", currency_rate=Decimal("1.27"))
    expense_approve(expense=approved, by=MembershipFactory(company=books.company).user)
    _typed_in_the_portal(approved, "1.270000000")
    from_the_api = _coded(books, currency="USD", currency_rate=Decimal("0.79"))
    synced = _coded(books, currency="USD", currency_rate=Decimal("1.27"))
    Expense.objects.filter(pk=synced.pk).update(status=ExpenseStatus.SYNCED)
    _typed_in_the_portal(synced, "1.270000000")
    changed_since = _coded(books, currency="USD", currency_rate=Decimal("0.80"))
    _typed_in_the_portal(changed_since, "1.25")

    _flag()

    approved.refresh_from_db()
    assert approved.currency_rate == Decimal("1.27")
    assert approved.status == ExpenseStatus.UNCATEGORIZED
    assert approved.approved_at is None
    assert approved.currency_rate_to_check.startswith(
        "This rate (1.27) was typed in when the page asked how many USD make one GBP"
    )
    assert approved.needs_recoding_reason == approved.currency_rate_to_check
    assert approved.events.filter(kind=EventKind.NEEDS_RECODING).count() == 1
    assert approved.events.filter(kind=EventKind.STATUS, to_status="uncategorized").exists()
    for untouched in (from_the_api, synced, changed_since):
        untouched.refresh_from_db()
        assert untouched.currency_rate_to_check == ""
    synced.refresh_from_db()
    assert synced.status == ExpenseStatus.SYNCED


def test_a_flagged_rate_blocks_the_expense_until_it_is_saved_again(db):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE)
    expense = _coded(books, currency="USD", currency_rate=Decimal("1.27"))
    _typed_in_the_portal(expense, "1.27")
    _flag()
    expense.refresh_from_db()

    [problem] = expense_readiness(expense)
    assert problem.field == "currency_rate"
    assert "Codat reads the rate the other way round" in problem.message
    assert problem.fix.startswith("Check the rate and save it again on the expense page")

    user = MembershipFactory(company=books.company, role=Role.APPROVER).user
    problems = expense_update_details(
        expense=expense, by=user, notes="", currency_rate=Decimal("0.79"), supplier_override=None
    )

    assert problems == []
    expense.refresh_from_db()
    assert expense.currency_rate_to_check == ""
    assert expense.status == ExpenseStatus.CATEGORIZED
    event = expense.events.filter(kind=EventKind.CODED).latest("created_at", "id")
    assert event.message == "Changed currency rate; Currency rate checked"
    assert json.dumps(event.data)  # the trail keeps what was flagged
    assert event.data["before"]["currency_rate_to_check"].startswith("This rate (1.27)")
