"""Money as each currency counts it: JPY has no decimals, BHD three, most two; written,
rounded, stored and refused the same way on every page, in the queue's rows and at ingest."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse

from companies.models import Role
from expenses.coding import LineInput, expense_set_lines, split_gross
from expenses.ingest import IngestExpenseForm
from expenses.models import Expense
from expenses.services import ExpenseRefused
from sfe_portal.jinja_env import environment
from sfe_portal.money import format_money, minor_units, precision_problem, to_precision
from tests.factories import ExpenseFactory, MembershipFactory


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("1234.5", "GBP", "1,234.50 GBP"),
        ("1234.5", "JPY", "1,235 JPY"),
        ("1234", "JPY", "1,234 JPY"),
        ("12.3456", "BHD", "12.346 BHD"),
        ("0.1", "KWD", "0.100 KWD"),
        ("-5", "USD", "-5.00 USD"),
        ("7", "XYZ", "7.00 XYZ"),
    ],
)
def test_amounts_are_written_with_the_currencys_decimals(amount, currency, text):
    assert format_money(Decimal(amount), currency) == text


def test_minor_units_follow_iso_4217():
    assert [minor_units(c) for c in ("GBP", "JPY", "KRW", "BHD", "TND", "jpy")] == [
        2,
        0,
        0,
        3,
        3,
        0,
    ]


def test_more_decimals_than_the_currency_has_are_named_with_the_fix():
    assert precision_problem(Decimal("1500"), "JPY") is None
    assert precision_problem(Decimal("1500.00"), "JPY") is None
    assert precision_problem(Decimal("1.234"), "BHD") is None
    assert "JPY has no decimals" in precision_problem(Decimal("1500.5"), "JPY")
    assert "GBP has 2 decimals" in precision_problem(Decimal("1.234"), "GBP")
    assert to_precision(Decimal("2.5"), "JPY") == Decimal(3)


def test_the_template_filters_and_the_jinja_filter_write_the_same():
    rendered = Template("{{ a|money:'JPY' }}|{{ a|amount:'BHD' }}|{{ 'JPY'|money_step }}").render(
        Context({"a": Decimal("1234.5")})
    )
    jinja = environment().from_string("{{ a|money('JPY') }}").render(a=Decimal("1234.5"))

    assert rendered == "1,235 JPY|1,234.500|1"
    assert jinja == "1,235"


def _form(**item):
    data = {"external_id": "x1", "type": "Payment", "issue_date": "2026-11-02", **item}
    return IngestExpenseForm(data=data)


def test_ingest_refuses_decimals_the_currency_does_not_have():
    jpy = _form(currency="JPY", amount="1500.50")
    gbp = _form(currency="GBP", amount="12.345")
    bhd = _form(currency="BHD", amount="12.345")

    assert not jpy.is_valid()
    assert "JPY has no decimals" in jpy.errors["amount"][0]
    assert not gbp.is_valid()
    assert "GBP has 2 decimals" in gbp.errors["amount"][0]
    assert bhd.is_valid(), bhd.errors


@pytest.mark.django_db
def test_a_bhd_amount_is_stored_to_the_fils():
    expense = ExpenseFactory(currency="BHD", amount=Decimal("12.345"))

    assert Expense.objects.get(pk=expense.pk).amount == Decimal("12.345")


@pytest.mark.django_db
def test_tax_is_split_to_the_currencys_minor_unit(books):
    net, tax = split_gross(Decimal(1000), books.vat, "JPY")

    assert tax == tax.to_integral_value()
    assert net + tax == Decimal(1000)


@pytest.mark.django_db
def test_a_line_with_decimals_the_currency_lacks_is_refused_naming_the_line(books):
    expense = ExpenseFactory(company=books.company, currency="JPY", amount=Decimal(1500))

    with pytest.raises(ExpenseRefused) as refused:
        expense_set_lines(
            expense=expense,
            lines=[LineInput(net_amount=Decimal("1499.5"), tax_amount=Decimal("0.5"))],
            by=None,
        )

    fields = [p.field for p in refused.value.problems]
    assert fields == ["lines[0].net_amount", "lines[0].tax_amount"]


@pytest.mark.django_db
def test_the_expense_page_and_the_queue_show_yen_without_decimals(client, books):
    company = books.company
    expense = ExpenseFactory(
        company=company, currency="JPY", amount=Decimal(123456), merchant_name="Lawson"
    )
    client.force_login(MembershipFactory(company=company, role=Role.APPROVER).user)

    page = client.get(reverse("expense-detail", args=[company.pk, expense.pk])).content.decode()
    queue = client.get(reverse("expense-queue", args=[company.pk]) + "?tab=all").content.decode()

    assert "123,456 JPY" in page
    assert 'step="1"' in page
    assert "123,456.00" not in page
    assert "123,456" in queue
    assert "123,456.00" not in queue
