"""Rows show what blocks them and offer only what they accept: the problem coding cannot fix
comes first, tax rates and accounts are those valid for the row, suppliers carry their
currency, a supplier can be set on many rows at once, and the receipt form is not offered
where the platform takes no receipt."""

from decimal import Decimal

import pytest
from django.urls import reverse

from companies.models import CompanyConfiguration, Role
from companies.platforms import Platform
from expenses.models import Expense
from expenses.selectors import coding_choices, queue_row
from expenses.services import expense_readiness
from tests.expenses.conftest import make_books
from tests.factories import (
    ExpenseFactory,
    LedgerAccountFactory,
    MembershipFactory,
    SupplierFactory,
    TaxRateFactory,
)

pytestmark = pytest.mark.django_db


def _row(books, expense):
    books.company.refresh_from_db()
    return queue_row(
        company=books.company,
        expense_id=expense.pk,
        choices=coding_choices(company=books.company),
    )


def test_an_uncoded_row_shows_the_blocker_coding_cannot_fix_first(db):
    usd_only = SupplierFactory(name="Adobe", default_currency="USD")
    books = make_books(platform=Platform.XERO, supplier=usd_only)
    CompanyConfiguration.objects.filter(company=books.company).update(supplier=usd_only)
    usd_only.company = books.company
    usd_only.save()
    expense = ExpenseFactory(company=books.company, currency="GBP")

    problems = expense_readiness(expense)

    assert problems[0].field == "supplier_override"
    assert "trades in USD only" in problems[0].message
    assert problems[-1].message == "The expense has no coding yet."
    row = _row(books, expense)
    assert row.problems[0].field == "supplier_override"


def test_a_row_offers_only_the_tax_rates_valid_for_its_type(books):
    refunds_only = TaxRateFactory(
        company=books.company, name="Refund VAT", valid_transaction_types=["Refund"]
    )
    payment = ExpenseFactory(company=books.company, type="Payment")
    refund = ExpenseFactory(company=books.company, type="Refund")

    assert refunds_only not in _row(books, payment).tax_options
    assert books.vat in _row(books, payment).tax_options  # names no types: valid for all
    assert refunds_only in _row(books, refund).tax_options


def test_a_transfer_row_never_offers_the_cards_own_account(books):
    current = LedgerAccountFactory(
        company=books.company,
        name="Current account",
        is_bank_account=True,
        valid_transaction_types=["TransferIn", "TransferOut"],
    )
    transfer = ExpenseFactory(company=books.company, type="TransferOut")
    payment = ExpenseFactory(company=books.company, type="Payment")

    transfer_options = _row(books, transfer).account_options

    assert books.card not in transfer_options
    assert transfer_options == [current]
    assert books.card.accepts("TransferOut")
    assert (
        _row(books, payment).account_options
        is coding_choices(company=books.company).accounts_by_type["Payment"]
    )


def test_the_rendered_row_offers_the_same_options(client, books, member):
    refunds_only = TaxRateFactory(
        company=books.company, name="Refund VAT", valid_transaction_types=["Refund"]
    )
    ExpenseFactory(company=books.company, type="Payment")

    body = client.get(reverse("expense-queue", args=[books.company.pk])).content.decode()
    row = body[body.index('<tr id="row-') :]

    assert "Refund VAT" not in row[: row.index("</tr>")]
    assert refunds_only.name in body  # the bulk bar still offers every rate


def test_the_expense_page_supplier_select_shows_each_suppliers_currency(client, books, member):
    SupplierFactory(company=books.company, name="Adobe", default_currency="USD")
    SupplierFactory(company=books.company, name="Pret", default_currency="")
    expense = ExpenseFactory(company=books.company)

    body = client.get(reverse("expense-detail", args=[books.company.pk, expense.pk])).content

    assert b"Adobe (USD only)</option>" in body
    assert b"Pret (any currency)</option>" in body


def test_bulk_set_supplier_sets_it_where_the_platform_takes_one(client, books, member):
    supplier = SupplierFactory(company=books.company, name="Amazon UK", default_currency="GBP")
    payments = [ExpenseFactory(company=books.company, type="Payment") for _ in range(2)]
    refund = ExpenseFactory(company=books.company, type="Refund")  # Xero: against a customer

    response = client.post(
        reverse("expense-bulk", args=[books.company.pk]),
        {"action": "code", "ids": [e.pk for e in [*payments, refund]], "supplier": supplier.pk},
        follow=True,
    )

    body = response.content.decode()
    assert "2 expenses coded. 1 refused" in body
    assert "against the default customer" in body
    for payment in payments:
        payment.refresh_from_db()
        assert payment.supplier_override == supplier
        assert payment.events.filter(message="Changed supplier override").exists()
    refund.refresh_from_db()
    assert refund.supplier_override is None
    assert not refund.lines.exists()


def test_bulk_supplier_from_another_company_is_refused(client, books, member):
    other = SupplierFactory(name="Elsewhere")
    expense = ExpenseFactory(company=books.company)

    response = client.post(
        reverse("expense-bulk", args=[books.company.pk]),
        {"action": "code", "ids": [expense.pk], "supplier": other.pk},
        follow=True,
    )

    assert "Nothing was changed" in response.content.decode()
    expense.refresh_from_db()
    assert expense.supplier_override is None


def test_the_receipt_form_is_not_offered_where_the_platform_takes_no_receipt(client, books, member):
    adjustment = ExpenseFactory(company=books.company, type="AdjustmentIn", amount=Decimal(5))
    payment = ExpenseFactory(company=books.company, type="Payment")

    refused = client.get(reverse("expense-detail", args=[books.company.pk, adjustment.pk]))
    offered = client.get(reverse("expense-detail", args=[books.company.pk, payment.pk]))

    text = refused.content.decode()
    assert "Xero does not take receipts on Adjustment in transactions." in text
    assert 'name="receipts"' not in text
    assert 'name="receipts"' in offered.content.decode()
    assert "takes PDF, PNG, JPEG, GIF, TIFF or BMP receipts" in offered.content.decode()


def test_a_viewer_sees_why_no_receipt_can_be_added_too(client, books):
    viewer = MembershipFactory(company=books.company, role=Role.VIEWER).user
    client.force_login(viewer)
    adjustment = ExpenseFactory(company=books.company, type="AdjustmentOut")

    body = client.get(reverse("expense-detail", args=[books.company.pk, adjustment.pk])).content

    assert b"does not take receipts on Adjustment out" in body
    assert Expense.objects.count() == 1
