"""The queue's download link in a real browser: it follows the filters typed in, and the file
it gives holds what the filters match."""

import os
import re

import pytest
from playwright.sync_api import expect

from companies.models import Role
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_download_follows_the_search_typed_in(page, tmp_path):
    books = make_books()
    user = UserFactory()
    MembershipFactory(user=user, company=books.company, role=Role.VIEWER)
    ExpenseFactory(company=books.company, merchant_name="Uber to airport")
    ExpenseFactory(company=books.company, merchant_name="Pret A Manger")
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Companies").wait_for()

    page.goto(f"/companies/{books.company.pk}/expenses/")
    page.get_by_placeholder("Merchant, notes, employee or card").fill("uber")
    csv_link = page.get_by_role("link", name="CSV", exact=True)
    expect(csv_link).to_have_attribute(
        "href", re.compile(r"/expenses/export\.csv\?(.*&)?q=uber(&|$)")
    )
    if shot := os.environ.get("QUEUE_DOWNLOAD_SCREENSHOT"):
        page.screenshot(path=shot)
    with page.expect_download() as download:
        csv_link.click()
    download.value.save_as(tmp_path / "queue.csv")
    text = (tmp_path / "queue.csv").read_text()

    assert "Uber to airport" in text
    assert "Pret A Manger" not in text
