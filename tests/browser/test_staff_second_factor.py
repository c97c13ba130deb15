"""A staff member signs in where codes are required: sets up an authenticator app from the QR
page, confirms it with a code, reaches the admin; at the next sign-in gives a code on the
second step. The codes are computed here from the device's key, as the app would."""

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import SupportFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code(steps_ahead=0):
    device = TOTPDevice.objects.get()
    number = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead)
    return f"{number:06d}"


def _password_at_the_admin(page, username):
    page.goto("/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()


def test_staff_set_up_an_app_then_give_a_code_at_each_sign_in(page, settings):
    settings.STAFF_TOTP_REQUIRED = True
    SupportFactory(username="root")

    _password_at_the_admin(page, "root")
    page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    page.get_by_text("Cannot scan? Type the key in instead").click()
    key = page.locator("#setup-key").inner_text().replace(" ", "")
    assert len(key) == 32
    page.get_by_label("Enter the 6-digit code the app now shows").fill("000000")
    page.get_by_role("button", name="Confirm and continue").click()
    assert "That code is not right" in page.get_by_role("alert").inner_text()
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    page.get_by_label("Enter the 6-digit code the app now shows").fill(_code())
    page.get_by_role("button", name="Confirm and continue").click()
    page.get_by_text("Site administration").wait_for()
    assert page.get_by_text("Your authenticator app is set up").is_visible()

    page.get_by_role("button", name="Log out").click()
    page.goto("/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Enter your code").wait_for()
    assert page.get_by_role("link", name="Admin", exact=True).count() == 0
    # The code of the next 30 seconds: the one just used is never taken twice.
    page.get_by_label("Code from your app").fill(_code(steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Companies").wait_for()
    page.get_by_role("link", name="Admin", exact=True).click()
    page.get_by_text("Site administration").wait_for()
