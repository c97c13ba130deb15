"""A PDF receipt is previewed on the expense page in Chromium: the portal's framing headers
let its own page embed the file, and no one else's."""

import pytest
from playwright.sync_api import expect

from companies.models import Role
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pdf(text: str) -> bytes:
    """A one-page PDF showing `text`."""
    stream = f"BT /F1 18 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def test_a_pdf_receipt_is_shown_on_the_expense_page(page):
    books = make_books()
    user = UserFactory()
    MembershipFactory(user=user, company=books.company, role=Role.APPROVER)
    expense = ExpenseFactory(company=books.company, merchant_name="Hotel")
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Companies").wait_for()
    page.goto(f"/companies/{books.company.pk}/expenses/{expense.pk}/")

    page.set_input_files(
        "#receipt-files",
        files=[{"name": "hotel.pdf", "mimeType": "application/pdf", "buffer": _pdf("Hotel 84.00")}],
    )
    page.get_by_role("button", name="Upload").click()

    preview = page.locator(".receipt-card object")
    preview.wait_for()
    file_url = preview.get_attribute("data")
    # The PDF loads inside the <object>: a refused frame would leave the fallback link showing
    # (and the page fixture fails on the frame-ancestors violation Chromium reports).
    for _ in range(100):
        if any(frame.url.endswith(file_url) for frame in page.frames):
            break
        page.wait_for_timeout(100)
    assert any(frame.url.endswith(file_url) for frame in page.frames), [
        frame.url for frame in page.frames
    ]
    expect(page.get_by_role("link", name="Open hotel.pdf")).to_be_hidden()
