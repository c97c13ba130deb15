"""Signing in and out in a real browser, with the demo sign-ins."""

import pytest

from demo.seed import demo_users_ensure
from tests.factories import CompanyFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, username, password):
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_finance_signs_in_and_sees_their_companies(page):
    finance = demo_users_ensure()[1]
    MembershipFactory(user=finance, company=CompanyFactory(name="Harbour Coffee Ltd"))
    CompanyFactory(name="Someone Else Ltd")

    _sign_in(page, "finance", "finance")

    page.get_by_role("heading", name="Companies").wait_for()
    assert page.get_by_role("link", name="Harbour Coffee Ltd").is_visible()
    assert page.get_by_text("Someone Else Ltd").count() == 0
    assert page.get_by_role("link", name="Admin").count() == 0


def test_admin_signs_in_and_reaches_django_admin(page):
    demo_users_ensure()

    _sign_in(page, "admin", "admin")
    page.get_by_role("link", name="Admin", exact=True).click()

    page.get_by_text("Site administration").wait_for()
    assert page.get_by_role("link", name="Expenses").first.is_visible()


def test_wrong_password_shows_the_reason_and_keeps_the_username(page):
    demo_users_ensure()

    _sign_in(page, "finance", "wrong")

    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "correct username and password" in alert.inner_text()
    assert page.get_by_label("Username").input_value() == "finance"


def test_sign_out_returns_to_the_sign_in_page(page):
    demo_users_ensure()
    _sign_in(page, "finance", "finance")

    page.get_by_role("button", name="Sign out").click()

    page.get_by_role("heading", name="Sign in").wait_for()
    page.goto("/")
    assert "/accounts/login/" in page.url
