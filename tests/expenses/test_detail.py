"""The expense page: split lines, details, receipts with access-checked files, the payload."""

import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from companies.models import Role
from expenses.coding import expense_set_coding
from expenses.models import EventKind, ExpenseStatus
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, MembershipFactory, SupplierFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _url(name, expense, *extra):
    return reverse(name, args=[expense.company_id, expense.pk, *extra])


def _lines(*lines):
    data = {"lines-TOTAL_FORMS": str(len(lines)), "lines-INITIAL_FORMS": "0"}
    for i, line in enumerate(lines):
        for name, value in line.items():
            data[f"lines-{i}-{name}"] = value
    return data


def test_page_shows_problems_reading_and_trail(client, books, member):
    expense = ExpenseFactory(company=books.company, merchant_name="Hilton London")

    body = client.get(_url("expense-detail", expense)).content.decode()

    assert "Hilton London" in body
    assert "Not ready to sync yet" in body
    assert "The expense has no coding yet." in body
    assert "Xero will record a spend money payment" in body


def test_ready_expense_shows_the_exact_payload(client, books, member):
    expense = ExpenseFactory(company=books.company, amount=Decimal("12.00"))
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)

    response = client.get(_url("expense-detail", expense))

    payload = json.loads(response.context["d"].payload)
    assert payload["id"] == str(expense.pk)
    assert payload["lines"][0]["accountRef"] == {"id": books.travel.codat_id}
    assert payload["lines"][0]["netAmount"] == 10


def test_split_into_three_lines_that_add_up(client, books, member):
    expense = ExpenseFactory(company=books.company, amount=Decimal("30.00"))
    line = {"account": books.travel.pk, "tax_rate": books.no_tax.pk, "tax_amount": "0"}

    response = client.post(
        _url("expense-lines", expense),
        _lines(
            {**line, "net_amount": "10"}, {**line, "net_amount": "15"}, {**line, "net_amount": "5"}
        ),
    )

    assert response.status_code == 302
    assert [str(x.net_amount) for x in expense.lines.all()] == ["10.00", "15.00", "5.00"]
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.CATEGORIZED


def test_lines_that_do_not_add_up_are_saved_and_flagged(client, books, member):
    expense = ExpenseFactory(company=books.company, amount=Decimal("30.00"))
    line = {"account": books.travel.pk, "tax_rate": books.no_tax.pk, "tax_amount": "0"}

    response = client.post(
        _url("expense-lines", expense), _lines({**line, "net_amount": "10"}), follow=True
    )

    assert (
        "The lines add up to 10.00 GBP but the expense is 30.00 GBP." in response.content.decode()
    )
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.UNCATEGORIZED


def test_invalid_line_input_saves_nothing_and_names_the_field(client, books, member):
    expense = ExpenseFactory(company=books.company)
    other = make_books()

    response = client.post(
        _url("expense-lines", expense),
        _lines({"account": other.travel.pk, "net_amount": "-3", "tax_amount": "x"}),
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert "<strong>account</strong>" in body
    assert "<strong>net_amount</strong>" in body
    assert not expense.lines.exists()


def test_more_than_100_lines_is_refused(client, books, member):
    expense = ExpenseFactory(company=books.company)

    response = client.post(_url("expense-lines", expense), _lines(*[{"net_amount": "0.01"}] * 101))

    assert response.status_code == 400
    assert not expense.lines.exists()


def test_details_save_notes_rate_and_supplier_with_a_trail(client, books, member):
    expense = ExpenseFactory(company=books.company, currency="EUR")
    supplier = SupplierFactory(company=books.company, default_currency="EUR")

    client.post(
        _url("expense-details", expense),
        {"notes": "Team dinner", "currency_rate": "1.17", "supplier_override": supplier.pk},
    )

    expense.refresh_from_db()
    assert (expense.notes, expense.currency_rate, expense.supplier_override) == (
        "Team dinner",
        Decimal("1.17"),
        supplier,
    )
    event = expense.events.get(kind=EventKind.CODED)
    assert event.message == "Changed currency rate, notes, supplier override"


def test_receipt_upload_preview_and_access(client, books, member):
    expense = ExpenseFactory(company=books.company)

    client.post(
        _url("expense-receipt-upload", expense),
        {"receipts": [SimpleUploadedFile("receipt.png", PNG, content_type="image/png")]},
    )

    receipt = expense.receipts.get()
    page = client.get(_url("expense-detail", expense)).content.decode()
    file_url = _url("expense-receipt-file", expense, receipt.pk)
    assert f'<img src="{file_url}"' in page
    response = client.get(file_url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")


def test_receipt_file_is_404_to_other_companies_and_403_free_to_viewers(client, books):
    expense = ExpenseFactory(company=books.company)
    from tests.factories import ReceiptFactory

    receipt = ReceiptFactory(expense=expense)
    client.force_login(MembershipFactory(company=make_books().company).user)

    assert client.get(_url("expense-receipt-file", expense, receipt.pk)).status_code == 404
    client.force_login(MembershipFactory(company=books.company, role=Role.VIEWER).user)
    assert client.get(_url("expense-receipt-file", expense, receipt.pk)).status_code == 200
    assert client.post(_url("expense-receipt-remove", expense, receipt.pk)).status_code == 403


def test_a_refused_receipt_says_why(client, books, member):
    expense = ExpenseFactory(company=books.company)

    response = client.post(
        _url("expense-receipt-upload", expense),
        {
            "receipts": [
                SimpleUploadedFile(
                    "receipt.jpg", b"<html><script>x</script>", content_type="image/jpeg"
                )
            ]
        },
        follow=True,
    )

    assert "receipt.jpg:" in response.content.decode()
    assert not expense.receipts.exists()


def test_remove_a_receipt(client, books, member):
    expense = ExpenseFactory(company=books.company)
    client.post(
        _url("expense-receipt-upload", expense),
        {"receipts": [SimpleUploadedFile("receipt.png", PNG, content_type="image/png")]},
    )
    receipt = expense.receipts.get()

    client.post(_url("expense-receipt-remove", expense, receipt.pk))

    assert not expense.receipts.exists()


def test_approve_from_the_page_returns_to_it(client, books, member):
    expense = ExpenseFactory(company=books.company)
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)

    response = client.post(_url("expense-approve", expense))

    assert response.status_code == 302
    assert response["Location"] == _url("expense-detail", expense)
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.APPROVED


def test_detail_page_query_count_is_bounded(client, books, member, django_assert_max_num_queries):
    expense = ExpenseFactory(company=books.company)
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)

    with django_assert_max_num_queries(22):
        client.get(_url("expense-detail", expense))


@pytest.mark.parametrize("name", ["expense-detail"])
def test_detail_of_another_companys_expense_is_404(client, books, member, name):
    foreign = ExpenseFactory(company=make_books().company)

    response = client.get(reverse(name, args=[books.company.pk, foreign.pk]))

    assert response.status_code == 404


def test_viewer_sees_the_page_without_forms(client, books):
    client.force_login(MembershipFactory(company=books.company, role=Role.VIEWER).user)
    expense = ExpenseFactory(company=books.company)

    body = client.get(_url("expense-detail", expense)).content.decode()

    assert "Save coding" not in body
    assert client.post(_url("expense-lines", expense), {}).status_code == 403
