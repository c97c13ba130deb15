"""The workspace queue in a real browser: the keyboard-only code-and-approve loop, bulk coding
of a filtered selection, a refused account with its reason, and 404 for other companies."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from companies.models import Role
from expenses.models import Expense, ExpenseStatus
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, user):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Companies").wait_for()


@pytest.fixture
def books_and_user():
    books = make_books()
    user = UserFactory()
    MembershipFactory(user=user, company=books.company, role=Role.APPROVER)
    return books, user


def test_code_and_approve_five_expenses_with_the_keyboard_only(page, books_and_user):
    books, user = books_and_user
    expenses = [
        ExpenseFactory(
            company=books.company,
            merchant_name=f"Merchant {i}",
            amount=Decimal("12.00"),
            issue_date=date(2026, 11, 10) - timedelta(days=i),
        )
        for i in range(5)
    ]
    _sign_in(page, user)
    page.goto(f"/companies/{books.company.pk}/expenses/")

    def press_and_wait_for_the_row(row_id, key, focused):
        # The row re-renders after each change; the user waits for the new row like anyone
        # would, and coding goes on from the field that was focused.
        page.evaluate(f"document.getElementById('{row_id}').dataset.old = '1'")
        page.keyboard.press(key)
        # Waited for with locators, not a page-side function: the CSP forbids eval.
        expect(page.locator(f"#{row_id}:not([data-old])")).to_be_attached()
        expect(page.locator(f"#{row_id} [name='{focused}']")).to_be_focused()

    for expense in expenses:
        row = page.locator(f"#row-{expense.pk}")
        page.keyboard.press("c")  # focus the account of the current row
        press_and_wait_for_the_row(f"row-{expense.pk}", "ArrowDown", "account")  # 1st account
        page.keyboard.press("Tab")
        press_and_wait_for_the_row(f"row-{expense.pk}", "ArrowDown", "tax_rate")  # 1st tax rate
        row.locator(".badge").filter(has_text="Ready to approve").wait_for()
        page.keyboard.press("Escape")
        with page.expect_response(lambda r: "/approve/" in r.url):
            page.keyboard.press("a")
        row.locator(".badge").filter(has_text="Approved").wait_for()
        page.keyboard.press("j")

    statuses = set(Expense.objects.filter(company=books.company).values_list("status", flat=True))
    assert statuses == {ExpenseStatus.APPROVED}


def test_help_overlay_lists_the_keys(page, books_and_user):
    books, user = books_and_user
    _sign_in(page, user)
    page.goto(f"/companies/{books.company.pk}/expenses/")

    page.keyboard.press("?")

    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "approve the current expense" in dialog.inner_text()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")


def test_bulk_apply_an_account_to_a_filtered_selection(page, books_and_user):
    books, user = books_and_user
    for name in ["Uber trip 1", "Uber trip 2", "Uber trip 3", "Pret"]:
        ExpenseFactory(company=books.company, merchant_name=name)
    _sign_in(page, user)
    page.goto(f"/companies/{books.company.pk}/expenses/")

    page.get_by_label("Search").fill("uber")
    page.locator("tr[data-row]").nth(2).wait_for()
    expect(page.locator("tr[data-row]")).to_have_count(3)
    page.get_by_label("Select all on this page").check()
    bar = page.locator("[data-bulk]")
    assert bar.locator("[data-bulk-count]").inner_text() == "3"
    bar.get_by_label("Account for the selected expenses").select_option(label=str(books.travel))
    bar.get_by_label("Tax rate for the selected expenses").select_option(label=str(books.vat))
    page.once("dialog", lambda d: d.accept())
    bar.get_by_role("button", name="Apply coding").click()

    page.get_by_text("3 expenses coded.").wait_for()
    coded = Expense.objects.filter(company=books.company, status=ExpenseStatus.CATEGORIZED)
    assert set(coded.values_list("merchant_name", flat=True)) == {
        "Uber trip 1",
        "Uber trip 2",
        "Uber trip 3",
    }


def test_an_invalid_account_is_refused_with_the_reason(page, books_and_user):
    books, user = books_and_user
    books.travel.valid_transaction_types = ["Payment", "Reward"]
    books.travel.save()
    expense = ExpenseFactory(company=books.company, type="Reward", merchant_name="Cashback")
    _sign_in(page, user)
    page.goto(f"/companies/{books.company.pk}/expenses/")
    # The chart changes while the page is open: Travel stops accepting rewards.
    books.travel.valid_transaction_types = ["Payment"]
    books.travel.save()

    row = page.locator(f"#row-{expense.pk}")
    # The old row says "no coding yet" too; mark it so only the swapped-in row is read.
    page.evaluate(f"document.getElementById('row-{expense.pk}').dataset.old = '1'")
    with page.expect_response(lambda r: "/code/" in r.url):
        row.locator("select[name=account]").select_option(label=str(books.travel))

    swapped = page.locator(f"#row-{expense.pk}:not([data-old])")
    expect(swapped).to_be_attached()
    expect(swapped.locator(".problem").first).to_contain_text("does not accept Reward transactions")


def test_member_of_another_company_gets_404(page, books_and_user):
    books, _ = books_and_user
    outsider = UserFactory()
    MembershipFactory(user=outsider, company=make_books().company)
    _sign_in(page, outsider)

    response = page.goto(f"/companies/{books.company.pk}/expenses/")

    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
