"""History suggestions in a real browser: the row shows what the company used before for the
merchant, and pressing `s` codes it."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from companies.models import Role
from expenses.coding import expense_set_coding
from expenses.models import ExpenseStatus
from tests.browser.test_queue import _sign_in
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pressing_s_accepts_the_suggestion_from_history(page):
    books = make_books()
    user = UserFactory()
    MembershipFactory(user=user, company=books.company, role=Role.BOOKKEEPER)
    for _ in range(3):
        past = ExpenseFactory(company=books.company, merchant_name="Uber #1234")
        expense_set_coding(expense=past, by=None, account=books.travel, tax_rate=books.vat)
    expense = ExpenseFactory(
        company=books.company, merchant_name="UBER #77", amount=Decimal("24.00")
    )
    _sign_in(page, user)
    page.goto(f"/companies/{books.company.pk}/expenses/")

    row = page.locator(f"#row-{expense.pk}")
    suggestion = row.locator("[data-suggestion]")
    assert "used 3×" in suggestion.inner_text()
    assert str(books.travel) in suggestion.inner_text()
    # The only row is the current one; mark it so the swapped-in row can be told apart.
    page.evaluate(f"document.getElementById('row-{expense.pk}').dataset.old = '1'")
    with page.expect_response(lambda r: "/accept-suggestion/" in r.url):
        page.keyboard.press("s")
    expect(page.locator(f"#row-{expense.pk}:not([data-old])")).to_be_attached()
    row.locator(".badge").filter(has_text="Ready to approve").wait_for()

    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.CATEGORIZED
    line = expense.lines.get()
    assert (line.account, line.tax_rate) == (books.travel, books.vat)
    assert not row.locator("[data-suggestion]").count()
