"""Downloading the queue: the tab and filters as CSV or XLSX, streamed, neutralised, per company."""

import csv
import io
import zipfile
from decimal import Decimal

import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse

from companies.models import Role
from expenses.export import neutralised
from expenses.models import Expense, ExpenseStatus
from expenses.selectors import EXPENSE_EXPORT_COLUMNS
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, ExpenseLineFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def _download(client, books, file_format="csv", **params):
    return client.get(reverse("expense-export", args=[books.company.pk, file_format]), params)


def _rows(response):
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_the_csv_has_the_columns_and_each_expense_with_its_coding(client, books, member, tracking):
    expense = ExpenseFactory(
        company=books.company,
        merchant_name="Trainline",
        amount=Decimal("42.50"),
        currency_rate=Decimal("1.170000000"),
        status=ExpenseStatus.FAILED,
        notes="Client visit",
        card_label="Card 4242",
        failure_message="The account is archived.",
    )
    line = ExpenseLineFactory(expense=expense, account=books.travel, tax_rate=books.vat)
    line.tracking_categories.add(tracking)
    ExpenseLineFactory(expense=expense, position=1, account=books.meals, tax_rate=books.vat)

    rows = _rows(_download(client, books, tab="failed"))

    assert rows[0] == list(EXPENSE_EXPORT_COLUMNS)
    assert rows[1] == [
        "2026-11-02",
        "Trainline",
        "Payment",
        "42.50",
        "GBP",
        "1.170000000",
        "Failed",
        f"{books.travel.nominal_code} Travel; {books.meals.nominal_code} Meals".strip(),
        "20% VAT",
        "Departments: Sales",
        "Ada Lovelace",
        "Card 4242",
        "Client visit",
        expense.external_id,
        str(expense.pk),
        "The account is archived.",
    ]


def test_the_download_follows_the_tab_and_the_text_filter(client, books, member):
    ExpenseFactory(company=books.company, merchant_name="Uber to airport")
    ExpenseFactory(company=books.company, merchant_name="Pret A Manger")
    ExpenseFactory(company=books.company, merchant_name="Uber Eats", status=ExpenseStatus.SYNCED)

    todo = _rows(_download(client, books, tab="todo", q="uber"))
    synced = _rows(_download(client, books, tab="synced"))

    assert [row[1] for row in todo[1:]] == ["Uber to airport"]
    assert [row[1] for row in synced[1:]] == ["Uber Eats"]


def test_every_page_of_a_big_tab_is_exported_in_the_sort_order(client, books, member, settings):
    from expenses import selectors

    for i in range(7):
        ExpenseFactory(company=books.company, merchant_name=f"M{i}", amount=Decimal(i + 1))
    rows = list(
        selectors.expenses_export_rows(
            expenses=Expense.objects.filter(company=books.company), sort="largest", page_size=3
        )
    )
    assert [row[1] for row in rows] == [f"M{i}" for i in reversed(range(7))]


def test_a_formula_in_card_data_is_written_as_text(client, books, member):
    ExpenseFactory(
        company=books.company,
        merchant_name='=HYPERLINK("http://x","y")',
        employee_name="+44 1234",
        notes="@SUM(A1)",
        card_label="-1",
    )

    row = _rows(_download(client, books))[1]

    assert row[1] == '\'=HYPERLINK("http://x","y")'
    assert (row[10], row[11], row[12]) == ("'+44 1234", "'-1", "'@SUM(A1)")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised(start):
    assert neutralised(f"{start}cmd") == f"'{start}cmd"
    assert neutralised(f"a{start}") == f"a{start}"
    assert neutralised(Decimal("-12.50")) == "-12.50"  # an amount we wrote, not card data


def test_another_companys_expenses_never_appear(client, books, member):
    other = make_books()
    ExpenseFactory(company=books.company, merchant_name="Ours")
    ExpenseFactory(company=other.company, merchant_name="Theirs")

    rows = _rows(_download(client, books, tab="all"))

    assert [row[1] for row in rows[1:]] == ["Ours"]


def test_an_outsider_gets_404(client, books):
    other = make_books()
    client.force_login(MembershipFactory(company=other.company, role=Role.APPROVER).user)
    ExpenseFactory(company=books.company)

    assert _download(client, books).status_code == 404
    assert _download(client, books, "xlsx").status_code == 404


def test_a_viewer_may_download_what_they_see(client, books):
    client.force_login(MembershipFactory(company=books.company, role=Role.VIEWER).user)
    ExpenseFactory(company=books.company, merchant_name="Seen")

    assert [row[1] for row in _rows(_download(client, books))[1:]] == ["Seen"]


def test_an_unknown_format_is_404(client, books, member):
    assert _download(client, books, "pdf").status_code == 404


@pytest.mark.parametrize("count", [10, 1000])
def test_the_queries_do_not_grow_with_the_rows(
    client, books, member, tracking, count, django_assert_max_num_queries
):
    expenses = Expense.objects.bulk_create(
        ExpenseFactory.build(company=books.company, external_id=f"e-{i}") for i in range(count)
    )
    ExpenseLineFactory.create_batch(1, expense=expenses[0], account=books.travel)

    # Session, user, membership and company, then three queries a page of a thousand rows.
    with django_assert_max_num_queries(10):
        response = _download(client, books)
        rows = _rows(response)

    assert len(rows) == count + 1


def test_the_xlsx_is_a_workbook_with_the_rows_neutralised(client, books, member):
    ExpenseFactory(company=books.company, merchant_name="=1+1", amount=Decimal("9.99"))

    response = _download(client, books, "xlsx")

    assert isinstance(response, FileResponse)
    assert response["Content-Disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<t>'=1+1</t>" in sheet or "<t>&apos;=1+1</t>" in sheet
    assert "<v>9.99</v>" in sheet
    assert "<f>" not in sheet  # no formula anywhere


def test_the_queue_links_to_the_download_of_its_tab_and_filters(client, books, member):
    response = client.get(
        reverse("expense-queue", args=[books.company.pk]), {"tab": "ready", "q": "uber"}
    )

    export = reverse("expense-export", args=[books.company.pk, "csv"])
    assert f'href="{export}?tab=ready&amp;q=uber"' in response.content.decode()
