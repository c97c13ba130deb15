"""Repeated wrong passwords lock the username, and the page says until when and what to do."""

import pytest

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_five_wrong_passwords_lock_the_username_with_a_clear_message(page, settings):
    settings.SIGNIN_USERNAME_FAILURES = 5
    settings.SIGNIN_LOCKOUT_MINUTES = 15
    UserFactory(username="ada")
    page.goto("/")

    for _ in range(5):
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("alert").wait_for()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()

    alert = page.get_by_role("alert")
    alert.wait_for()
    text = alert.inner_text()
    assert "Too many failed sign-ins for this username" in text
    assert "(15 minutes)" in text
    assert "ask support to lift the lock" in text
    assert page.get_by_role("heading", name="Sign in").is_visible()
