"""Staff's second factor (django-otp TOTP): required where STAFF_TOTP_REQUIRED, a staff session
reaches nothing before its code; enrolment with a QR code; wrong codes throttled; a command
resets a lost phone; in development the demo sign-ins need a password alone."""

import io
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.two_factor import code_problem, qr_code_svg, secret_in_groups
from demo.seed import demo_users_ensure
from tests.factories import (
    CompanyFactory,
    MembershipFactory,
    StaffFactory,
    SupportFactory,
    UserFactory,
)
from tests.fake_clock import FakeClock

pytestmark = pytest.mark.django_db

CODE_STEP = reverse("signin-code")
ENROL = reverse("signin-enrol")


@pytest.fixture
def required(settings):
    settings.STAFF_TOTP_REQUIRED = True
    return settings


def _code(device, steps_ahead=0):
    """The code the staff member's app shows now (or that many 30-second steps later)."""
    device.refresh_from_db()
    number = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead)
    return f"{number:06d}"


def _device(user, confirmed=True):
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=confirmed)


def _password(client, username, password="pw", url=None, next_url=""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(url or reverse("login"), data)


def _verified_in_session(client):
    return DEVICE_ID_SESSION_KEY in client.session


def test_a_staff_member_without_an_app_is_taken_to_set_one_up_after_the_password(client, required):
    StaffFactory(username="root")

    signed_in = _password(client, "root", next_url="/admin/")
    to_enrol = client.get(signed_in["Location"])
    page = client.get(to_enrol["Location"])

    assert signed_in["Location"] == f"{CODE_STEP}?next=%2Fadmin%2F"
    assert to_enrol["Location"] == f"{ENROL}?next=%2Fadmin%2F"
    body = page.content.decode()
    assert "Set up your authenticator app" in body
    assert '<svg class="qr-code" role="img"' in body
    device = TOTPDevice.objects.get(user__username="root")
    assert not device.confirmed
    assert secret_in_groups(device) in body


def test_enrolment_confirms_the_app_with_a_code_and_the_session_is_verified(client, required):
    staff = SupportFactory(username="root")
    client.force_login(staff)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=staff)

    wrong = client.post(ENROL, {"code": "000000", "next": "/dashboard/"})
    device.throttle_reset()
    right = client.post(ENROL, {"code": _code(device), "next": "/dashboard/"})
    dashboard = client.get(reverse("dashboard"))

    assert wrong.status_code == 200
    assert "That code is not right" in wrong.content.decode()
    assert right.status_code == 302
    assert right["Location"] == "/dashboard/"
    device.refresh_from_db()
    assert device.confirmed
    assert _verified_in_session(client)
    assert dashboard.status_code == 200


def test_reloading_the_enrolment_page_keeps_the_key_until_it_is_confirmed(client, required):
    client.force_login(StaffFactory())

    first = client.get(ENROL).content.decode()
    second = client.get(ENROL).content.decode()

    key = secret_in_groups(TOTPDevice.objects.get())
    assert key in first
    assert key in second
    assert TOTPDevice.objects.count() == 1


def test_a_staff_member_with_an_app_gives_a_code_on_the_second_step(client, required):
    staff = StaffFactory(username="root")
    device = _device(staff)

    signed_in = _password(client, "root", url=reverse("admin:login"), next_url="/admin/")
    admin_before = client.get(reverse("admin:index"))
    wrong = client.post(CODE_STEP, {"code": "123456", "next": "/admin/"})
    verified_after_wrong = _verified_in_session(client)
    device.throttle_reset()
    right = client.post(CODE_STEP, {"code": _code(device), "next": "/admin/"})
    admin_after = client.get(reverse("admin:index"))

    assert signed_in.status_code == 302
    assert admin_before.status_code == 302
    assert admin_before["Location"] == f"{CODE_STEP}?next=%2Fadmin%2F"
    assert wrong.status_code == 200
    assert "That code is not right" in wrong.content.decode()
    assert not verified_after_wrong
    assert right.status_code == 302
    assert right["Location"] == "/admin/"
    assert admin_after.status_code == 200
    assert "Site administration" in admin_after.content.decode()


def test_the_code_step_says_what_a_code_looks_like(client, required):
    staff = StaffFactory()
    _device(staff)
    client.force_login(staff)

    response = client.post(CODE_STEP, {"code": "12ab"})

    assert "Enter the 6-digit code your authenticator app shows now" in response.content.decode()
    assert code_problem("123456") == ""
    assert code_problem("1234567") != ""


def test_a_code_once_used_is_not_taken_again(client, required):
    staff = StaffFactory()
    device = _device(staff)
    code = _code(device)
    client.force_login(staff)
    client.post(CODE_STEP, {"code": code})
    other = Client()
    other.force_login(staff)

    replay = other.post(CODE_STEP, {"code": code})

    assert _verified_in_session(client)
    assert "That code is not right" in replay.content.decode()
    assert not _verified_in_session(other)


def test_wrong_codes_are_throttled_on_the_device_even_the_right_one_waits(
    client, required, monkeypatch
):
    clock = FakeClock(timezone.now())
    monkeypatch.setattr(timezone, "now", clock)
    staff = StaffFactory()
    device = _device(staff)
    client.force_login(staff)

    for wait in (1, 2, 0):  # each wrong code once its wait is over: 1, 2, then 4 seconds
        client.post(CODE_STEP, {"code": "000000"})
        clock.advance(seconds=wait)
    too_soon = client.post(CODE_STEP, {"code": _code(device)})
    from_another_session = Client()
    from_another_session.force_login(staff)
    also_too_soon = from_another_session.post(CODE_STEP, {"code": _code(device)})
    clock.advance(seconds=4)
    in_time = client.post(CODE_STEP, {"code": _code(device)})

    assert too_soon.status_code == 429
    assert "Wait 4 seconds before the next code" in too_soon.content.decode()
    assert also_too_soon.status_code == 429
    assert in_time.status_code == 302
    assert _verified_in_session(client)


def test_an_unverified_staff_session_is_refused_everywhere_but_the_steps(client, required):
    staff = SupportFactory()
    company = CompanyFactory()
    _device(staff)
    client.force_login(staff)

    dashboard = client.get(reverse("dashboard"))
    admin_index = client.get(reverse("admin:index"))
    push = client.post(reverse("push-start", args=[company.pk]))
    support_action = client.post(
        reverse("admin:companies_company_changelist"),
        {"action": "push_now", "_selected_action": [company.pk]},
    )
    htmx = client.get(reverse("dashboard"), HTTP_HX_REQUEST="true")
    code_step = client.get(CODE_STEP)
    signed_out = client.post(reverse("logout"))

    for refused in (dashboard, admin_index, push, support_action):
        assert refused.status_code == 302
        assert refused["Location"].startswith(f"{CODE_STEP}?next=")
    assert htmx.status_code == 200
    assert htmx["HX-Redirect"].startswith(f"{CODE_STEP}?next=")
    assert code_step.status_code == 200
    assert signed_out.status_code == 302
    assert "_auth_user_id" not in client.session


def test_members_who_are_not_staff_are_never_asked_for_a_code(client, required):
    member = UserFactory(username="finance")
    MembershipFactory(user=member)

    signed_in = _password(client, "finance")
    home = client.get(reverse("home"))
    enrol = client.get(ENROL)

    assert signed_in["Location"] == reverse("home")
    assert home.status_code == 200
    assert enrol.status_code == 302
    assert not TOTPDevice.objects.exists()


def test_with_an_app_set_up_no_second_one_can_be_added_without_the_code(client, required):
    staff = StaffFactory()
    _device(staff)
    client.force_login(staff)

    response = client.get(ENROL)

    assert response.status_code == 302
    assert response["Location"].startswith(CODE_STEP)
    assert TOTPDevice.objects.count() == 1


@pytest.mark.parametrize("url_name", ["login", "admin:login"])
def test_in_development_the_demo_sign_ins_need_a_password_alone(client, settings, url_name):
    """CONTRACTS.md: admin/admin and finance/finance after `make run`, through both sign-in
    pages, whatever production requires."""
    assert settings.STAFF_TOTP_REQUIRED is False  # the test settings run as development does
    demo_users_ensure()

    signed_in = _password(client, "admin", "admin", url=reverse(url_name), next_url="/admin/")
    admin_index = client.get(reverse("admin:index"))
    finance = Client()
    finance_in = _password(finance, "finance", "finance", next_url="/")

    assert signed_in["Location"] == "/admin/"
    assert admin_index.status_code == 200
    assert finance_in["Location"] == "/"
    assert not TOTPDevice.objects.exists()


def test_in_development_a_staff_member_who_set_up_an_app_still_gives_the_code(client):
    staff = StaffFactory(username="root")
    device = _device(staff)

    signed_in = _password(client, "root", next_url="/admin/")
    refused = client.get(reverse("admin:index"))
    client.post(CODE_STEP, {"code": _code(device)})

    assert signed_in["Location"] == f"{CODE_STEP}?next=%2Fadmin%2F"
    assert refused.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_in_development_staff_may_set_up_an_app_from_their_settings(client):
    staff = StaffFactory()
    client.force_login(staff)

    settings_page = client.get(reverse("personal-settings")).content.decode()
    client.get(ENROL)
    device = TOTPDevice.objects.get()
    confirmed = client.post(ENROL, {"code": _code(device), "next": "/accounts/settings/"})
    after = client.get(reverse("personal-settings")).content.decode()

    assert "Set up an authenticator app" in settings_page
    assert confirmed["Location"] == "/accounts/settings/"
    assert "You sign in with your password and a code from your authenticator app" in after


def test_the_command_resets_a_lost_phone_and_the_session_is_no_longer_verified(client, required):
    staff = StaffFactory(username="root")
    device = _device(staff)
    client.force_login(staff)
    client.post(CODE_STEP, {"code": _code(device)})
    assert client.get(reverse("admin:index")).status_code == 200
    out = io.StringIO()

    call_command("totp_reset", "root", stdout=out)
    after = client.get(reverse("admin:index"))

    assert "root: removed 1 authenticator app(s)" in out.getvalue()
    assert not TOTPDevice.objects.exists()
    assert after.status_code == 302
    assert client.get(after["Location"])["Location"].startswith(ENROL)


def test_the_command_names_an_unknown_username_and_changes_nothing():
    device = _device(StaffFactory(username="root"))

    with pytest.raises(CommandError, match="No account with the username nobody"):
        call_command("totp_reset", "root", "nobody")

    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_the_qr_code_is_inline_svg_with_no_style_and_no_outside_reference():
    svg = qr_code_svg("otpauth://totp/SfE%20Portal:root?secret=JBSWY3DPEHPK3PXP")

    assert svg.startswith('<svg class="qr-code" role="img"')
    assert "style" not in svg
    assert "href" not in svg
    assert 'width="' not in svg.split(">", 1)[0]


def test_the_session_ends_after_its_lifetime_whatever_the_second_factor(client, required, settings):
    """A verified session is still bound by SESSION_MAX_AGE_HOURS (12 by default)."""
    assert settings.SESSION_MAX_AGE_HOURS == 12
    staff = StaffFactory()
    device = _device(staff)
    client.force_login(staff)
    client.post(CODE_STEP, {"code": _code(device)})
    session = client.session
    session["signed_in_at"] = int(time.time() - timedelta(hours=12).total_seconds())
    session.save()

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
