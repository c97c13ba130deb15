"""Pages outside the workspace's own templates under the content security policy: receipts
previewed from an S3 bucket through signed URLs, and the admin. The page fixture fails a test
on any policy violation the browser reports."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_expense_page import _png, signed_in  # noqa: F401 (fixture)
from tests.browser.test_queue import _sign_in
from tests.factories import ExpenseFactory, UserFactory
from tests.integration.moto_s3 import moto_server, s3_bucket  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_receipt_in_the_bucket_is_previewed_through_its_signed_url(
    page,
    signed_in,  # noqa: F811
    s3_bucket,  # noqa: F811
):
    books = signed_in
    expense = ExpenseFactory(company=books.company, merchant_name="Taxi")
    page.goto(f"/companies/{books.company.pk}/expenses/{expense.pk}/")

    page.set_input_files(
        "#receipt-files", files=[{"name": "taxi.png", "mimeType": "image/png", "buffer": _png()}]
    )
    with page.expect_response(lambda r: r.url.startswith(s3_bucket.endpoint)) as from_bucket:
        page.get_by_role("button", name="Upload").click()

    assert from_bucket.value.status == 200
    assert "X-Amz-Signature=" in from_bucket.value.url
    expect(page.locator(".receipt-card img")).to_have_js_property("naturalWidth", 4)
    assert s3_bucket.keys() == [expense.receipts.get().file.name]


def test_the_admin_keeps_to_the_policy(page):
    admin = UserFactory(is_staff=True, is_superuser=True)
    expense = ExpenseFactory(merchant_name="Harbour Coffee")
    _sign_in(page, admin)

    for path, heading in [
        ("/admin/", "Site administration"),
        ("/admin/expenses/expense/", "Select expense to change"),
        (f"/admin/expenses/expense/{expense.pk}/change/", "Change expense"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
