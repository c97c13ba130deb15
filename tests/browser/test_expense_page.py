"""The expense page in a real browser: a three-way split with the live sum check, and a
receipt uploaded and previewed."""

import struct
import zlib
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from companies.models import Role
from expenses.models import ExpenseStatus
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _png(width=4, height=3):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xcc\x22\x22" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def signed_in(page):
    books = make_books()
    user = UserFactory()
    MembershipFactory(user=user, company=books.company, role=Role.APPROVER)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Companies").wait_for()
    return books


def test_split_an_expense_into_three_lines_with_the_sum_check(page, signed_in):
    books = signed_in
    expense = ExpenseFactory(
        company=books.company, amount=Decimal("30.00"), merchant_name="Offsite"
    )
    page.goto(f"/companies/{books.company.pk}/expenses/{expense.pk}/")

    page.get_by_role("button", name="Add a line").click()
    page.get_by_role("button", name="Add a line").click()
    lines = page.locator("[data-line]")
    for index, amount in enumerate(["10", "15", "4"]):
        line = lines.nth(index)
        line.get_by_label("Account").select_option(label=str(books.travel))
        line.get_by_label("Tax rate").select_option(label=str(books.no_tax))
        line.get_by_label("Net", exact=True).fill(amount)
        line.get_by_label("Tax", exact=True).fill("0")
    sum_line = page.locator("[data-sum]")
    expect(sum_line).to_have_text("Lines add up to 29.00 of 30.00 GBP: 1.00 left to allocate.")

    lines.nth(2).get_by_label("Net", exact=True).fill("5")
    expect(sum_line).to_have_text("Lines add up to 30.00 GBP, the expense's total.")
    page.get_by_role("button", name="Save coding").click()

    page.get_by_text("Lines saved. The expense is ready to approve.").wait_for()
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.CATEGORIZED
    assert [str(line.net_amount) for line in expense.lines.all()] == ["10.00", "15.00", "5.00"]


def test_the_sum_check_counts_yen_in_whole_yen(page, signed_in):
    books = signed_in
    expense = ExpenseFactory(
        company=books.company, currency="JPY", amount=Decimal(12000), merchant_name="Lawson"
    )
    page.goto(f"/companies/{books.company.pk}/expenses/{expense.pk}/")

    expect(page.get_by_role("heading", level=1)).to_contain_text("12,000 JPY")
    page.get_by_role("button", name="Add a line").click()
    lines = page.locator("[data-line]")
    lines.nth(0).get_by_label("Net", exact=True).fill("9000")
    lines.nth(1).get_by_label("Net", exact=True).fill("2500")
    expect(page.locator("[data-sum]")).to_have_text(
        "Lines add up to 11,500 of 12,000 JPY: 500 left to allocate."
    )


def test_upload_a_receipt_and_see_it_previewed(page, signed_in):
    books = signed_in
    expense = ExpenseFactory(company=books.company, merchant_name="Taxi")
    page.goto(f"/companies/{books.company.pk}/expenses/{expense.pk}/")

    page.set_input_files(
        "#receipt-files", files=[{"name": "taxi.png", "mimeType": "image/png", "buffer": _png()}]
    )
    page.get_by_role("button", name="Upload").click()

    image = page.get_by_role("img", name="Receipt taxi.png")
    image.wait_for()
    expect(page.locator(".receipt-card img")).to_have_js_property("naturalWidth", 4)
    assert expense.receipts.get().content_type == "image/png"
