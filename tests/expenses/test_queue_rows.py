"""The queue's rows (expenses/rows.py): escaped labels, the right options selected, amounts
as the queue shows them, and one markup for the page and the row partial."""

import html
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse

from expenses.rows import _PageParts
from sfe_portal.money import format_amount
from tests.factories import ExpenseFactory


def test_labels_are_escaped_and_the_chosen_pk_is_selected():
    records = [SimpleNamespace(pk=1, name="Travel"), SimpleNamespace(pk=2, name="<b>Meals</b>")]

    options = _PageParts(company_id=1).select_options(records, 2, by_name=True)

    assert options == (
        '<option value="1">Travel</option>'
        '<option value="2" selected>&lt;b&gt;Meals&lt;/b&gt;</option>'
    )


def test_a_set_of_pks_selects_each_and_str_labels_by_default():
    class Rate(SimpleNamespace):
        def __str__(self) -> str:
            return f"{self.name} ({self.rate}%)"

    records = [Rate(pk=1, name="VAT", rate=20), Rate(pk=2, name="Zero", rate=0)]

    options = _PageParts(company_id=1).select_options(records, {1, 2})

    assert options.count(" selected>") == 2
    assert ">VAT (20%)</option>" in options


def test_nothing_chosen_selects_nothing():
    records = [SimpleNamespace(pk=1, name="A")]

    assert " selected" not in _PageParts(company_id=1).select_options(records, None)


def test_one_render_escapes_a_list_once_and_marks_each_rows_choice_on_its_own():
    records = [SimpleNamespace(pk=1, name="A"), SimpleNamespace(pk=2, name="B")]
    parts = _PageParts(company_id=1)

    first, second = parts.select_options(records, 1), parts.select_options(records, 2)

    assert '<option value="1" selected>' in first
    assert '<option value="2">' in first
    assert '<option value="2" selected>' in second
    assert '<option value="1">' in second
    assert len(parts.options) == 1


@pytest.mark.parametrize(
    ("amount", "shown"),
    [(Decimal("1234.5"), "1,234.50"), (Decimal("0"), "0.00"), (Decimal("5000000"), "5,000,000.00")],
)
def test_amounts_show_two_decimals_and_thousands_separators(amount, shown):
    assert format_amount(amount, "GBP") == shown


@pytest.mark.django_db
def test_the_page_and_the_row_partial_render_the_same_escaped_row(client, books, member):
    expense = ExpenseFactory(
        company=books.company,
        merchant_name="<script>alert(1)</script> & Co",
        issue_date=date(2026, 3, 7),
        amount=Decimal("1234.50"),
    )
    page = client.get(reverse("expense-queue", args=[books.company.pk])).content.decode()
    row = client.post(
        reverse("expense-code", args=[books.company.pk, expense.pk]), {"account": ""}
    ).content.decode()

    for body in (page, row):
        assert "<script>alert(1)</script>" not in body
        assert html.escape("<script>alert(1)</script> & Co") in body.replace("&#39;", "'")
        assert "7 Mar 2026" in body
        assert "1,234.50 GBP" in body
        assert f'hx-post="/companies/{books.company.pk}/expenses/{expense.pk}/code/"' in body
    assert row.strip().startswith(f'<tr id="row-{expense.pk}"')


@pytest.mark.django_db
def test_records_no_longer_offered_still_show_on_their_rows_for_one_query_each_kind(
    client, books, member, django_assert_max_num_queries
):
    from companies.models import SourceStatus
    from expenses.coding import expense_set_coding
    from tests.expenses.test_queue import QUEUE_PAGE_MAX_QUERIES
    from tests.factories import LedgerAccountFactory, SupplierFactory

    old = LedgerAccountFactory(company=books.company, name="Old travel")
    gone = SupplierFactory(company=books.company, name="Gone Ltd", status=SourceStatus.ARCHIVED)
    for _ in range(3):
        expense = ExpenseFactory(company=books.company, supplier_override=gone)
        expense_set_coding(expense=expense, by=None, account=old, tax_rate=books.vat)
    old.status = SourceStatus.ARCHIVED
    old.save()
    queue = reverse("expense-queue", args=[books.company.pk])
    client.get(queue)  # the first page of this master data version reads the choices

    # The rows' offered accounts and tax rates come with the choices; the archived account
    # and the supplier overrides are read once each, whatever the number of rows.
    with django_assert_max_num_queries(QUEUE_PAGE_MAX_QUERIES + 2):
        body = html.unescape(client.get(queue, {"tab": "all"}).content.decode())

    assert body.count(f"{old} (not valid)</option>") == 3
    assert body.count(">Supplier 'Gone Ltd' is archived in the accounting software.") == 3


@pytest.mark.parametrize(("query", "selected"), [("", None), ("sort=largest", "largest")])
def test_a_filter_select_marks_its_value_as_the_widget_would(query, selected):
    from django.http import QueryDict

    from expenses.forms import QueueFilterForm
    from expenses.templatetags.queue_rows import filter_select

    form = QueueFilterForm(QueryDict(query))
    form.is_valid()

    html_ = filter_select(form["sort"])

    assert html_ == str(form["sort"]).replace("\n", "").replace("  ", "")
    assert html_.count(" selected>") == (1 if selected else 0)
    if selected:
        assert f'<option value="{selected}" selected>' in html_


def test_a_filter_select_escapes_and_says_when_its_value_was_refused():
    from django import forms
    from django.http import QueryDict

    from expenses.templatetags.queue_rows import filter_select

    class Form(forms.Form):
        kind = forms.ChoiceField(choices=[("a", "<b>A</b>"), ("b", "B & co")], required=False)

    form = Form(QueryDict("kind=zzz"))
    assert not form.is_valid()

    html_ = filter_select(form["kind"])

    assert html_ == (
        '<select name="kind" aria-invalid="true" id="id_kind">'
        '<option value="a">&lt;b&gt;A&lt;/b&gt;</option><option value="b">B &amp; co</option>'
        "</select>"
    )


@pytest.mark.django_db
def test_the_bulk_bar_offers_every_record_of_the_choices(client, books, member, tracking):
    ExpenseFactory(company=books.company)

    body = client.get(reverse("expense-queue", args=[books.company.pk])).content.decode()

    bulk = body[body.index('aria-label="Account for the selected expenses"') :]
    bulk = bulk[: bulk.index("Apply coding")]
    for record in (books.travel, books.cashback, books.card):
        assert f'<option value="{record.pk}">{html.escape(str(record))}</option>' in bulk
    assert f'<option value="{books.no_tax.pk}">{html.escape(str(books.no_tax))}</option>' in bulk
    assert 'aria-label="Departments for the selected expenses"' in bulk
    assert f'<option value="{tracking.pk}">Sales</option>' in bulk


@pytest.mark.django_db
def test_a_line_with_several_tracking_categories_shows_each_once(
    client, books, member, tracking, django_assert_max_num_queries
):
    from companies.models import SourceStatus
    from expenses.coding import expense_set_coding
    from tests.expenses.test_queue import QUEUE_PAGE_MAX_QUERIES
    from tests.factories import TrackingCategoryFactory

    regions = TrackingCategoryFactory(company=books.company, name="Regions", has_children=True)
    north = TrackingCategoryFactory(company=books.company, name="North", parent=regions)
    old = TrackingCategoryFactory(company=books.company, name="Old region", parent=regions)
    expense = ExpenseFactory(company=books.company)
    expense_set_coding(
        expense=expense, by=None, account=books.travel, tax_rate=books.vat, tracking=[tracking]
    )
    other = ExpenseFactory(company=books.company)
    expense_set_coding(
        expense=other, by=None, account=books.travel, tax_rate=books.vat, tracking=[north, old]
    )
    old.status = SourceStatus.ARCHIVED
    old.save()
    queue = reverse("expense-queue", args=[books.company.pk])
    client.get(queue)

    # The archived category is no longer among the choices: read once, in a query of its own.
    with django_assert_max_num_queries(QUEUE_PAGE_MAX_QUERIES + 1):
        page = client.get(queue, {"tab": "all"}).context["page"]

    rows = {row.expense.pk: row for row in page.rows}
    assert [c.name for c in rows[other.pk].tracking] == ["North", "Old region"]
    assert rows[other.pk].tracking_ids == {north.pk, old.pk}
    assert [c.name for c in rows[expense.pk].tracking] == ["Sales"]
    assert len(rows[other.pk].lines) == 1
    assert "Tracking category 'Old region' is archived" in " ".join(
        p.message for p in rows[other.pk].problems
    )
