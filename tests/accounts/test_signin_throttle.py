"""Sign-in throttling: repeated failures lock a username (and a client IP) for a while, with a
clear message; the lock is counted in the database and the clock is injected."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services
from accounts.models import LockScope, SignInFailure, SignInLockout
from tests.factories import StaffFactory, UserFactory
from tests.fake_clock import FakeClock
from tests.integration.conftest import ROOT, _database_env

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch, settings):
    settings.SIGNIN_USERNAME_FAILURES = 5
    settings.SIGNIN_IP_FAILURES = 20
    settings.SIGNIN_WINDOW_MINUTES = 15
    settings.SIGNIN_LOCKOUT_MINUTES = 15
    fake = FakeClock(T0)
    monkeypatch.setattr(services, "clock", fake)
    return fake


def _sign_in(client, username, password, ip="10.0.0.1", url=None):
    return client.post(
        url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_five_failures_lock_the_username_even_for_the_right_password(client, clock):
    UserFactory(username="ada")

    for _ in range(4):
        assert _sign_in(client, "ada", "wrong").status_code == 200
    fifth = _sign_in(client, "ada", "wrong")
    right_password = _sign_in(client, "ada", "pw")

    assert fifth.status_code == 429
    assert right_password.status_code == 429
    body = right_password.content.decode()
    assert "Too many failed sign-ins for this username" in body
    assert "locked until 09:15 UTC (15 minutes)" in body
    assert "_auth_user_id" not in client.session
    lockout = SignInLockout.objects.get()
    assert (lockout.scope, lockout.key, lockout.failures) == (LockScope.USERNAME, "ada", 5)
    assert lockout.until == T0 + timedelta(minutes=15)


def test_the_lock_ends_after_its_minutes_and_the_count_starts_again(client, clock):
    UserFactory(username="ada")
    for _ in range(5):
        _sign_in(client, "ada", "wrong")

    clock.advance(minutes=14, seconds=59)
    assert _sign_in(client, "ada", "pw").status_code == 429
    clock.advance(seconds=1)
    signed_in = _sign_in(client, "ada", "pw")

    assert signed_in.status_code == 302
    assert signed_in["Location"] == reverse("home")
    assert not SignInFailure.objects.filter(username="ada").exists()


def test_failures_outside_the_window_do_not_count(client, clock):
    UserFactory(username="ada")

    for _ in range(4):
        _sign_in(client, "ada", "wrong")
    clock.advance(minutes=16)
    response = _sign_in(client, "ada", "wrong")

    assert response.status_code == 200
    assert not SignInLockout.objects.exists()


def test_a_good_sign_in_clears_the_failures_of_that_username(client, clock):
    UserFactory(username="ada")
    for _ in range(4):
        _sign_in(client, "ada", "wrong")

    assert _sign_in(client, "ada", "pw").status_code == 302
    client.logout()
    for _ in range(4):
        assert _sign_in(client, "ada", "wrong").status_code == 200

    assert not SignInLockout.objects.exists()


def test_usernames_are_counted_case_insensitively(client, clock):
    UserFactory(username="ada")

    for name in ["ada", "ADA", "Ada", " ada", "aDa"]:
        _sign_in(client, name, "wrong")

    assert SignInLockout.objects.get().key == "ada"


def test_one_address_trying_many_usernames_is_locked(client, clock):
    UserFactory(username="grace")

    for n in range(20):
        _sign_in(client, f"guess{n}", "wrong", ip="203.0.113.9")
    from_there = _sign_in(client, "grace", "pw", ip="203.0.113.9")
    from_elsewhere = _sign_in(client, "grace", "pw", ip="198.51.100.2")

    assert from_there.status_code == 429
    assert "your network address" in from_there.content.decode()
    assert from_elsewhere.status_code == 302
    assert SignInLockout.objects.filter(scope=LockScope.IP, key="203.0.113.9").exists()


def test_a_locked_username_is_locked_from_every_address(client, clock):
    UserFactory(username="ada")
    for n in range(5):
        _sign_in(client, "ada", "wrong", ip=f"10.0.0.{n + 1}")

    assert _sign_in(client, "ada", "pw", ip="10.9.9.9").status_code == 429


def test_the_admin_sign_in_shares_the_count_and_the_lock(client, clock):
    StaffFactory(username="root")

    for _ in range(3):
        _sign_in(client, "root", "wrong")
    for _ in range(2):
        _sign_in(client, "root", "wrong", url=reverse("admin:login"))
    response = _sign_in(client, "root", "pw", url=reverse("admin:login"))

    assert "Too many failed sign-ins for this username" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_support_can_lift_a_lock_in_the_admin(client, clock):
    UserFactory(username="ada")
    for _ in range(5):
        _sign_in(client, "ada", "wrong")
    lockout = SignInLockout.objects.get()
    admin_client = type(client)()
    admin_client.force_login(StaffFactory(is_superuser=True))

    page = admin_client.get(reverse("admin:accounts_signinlockout_changelist"))
    admin_client.post(
        reverse("admin:accounts_signinlockout_changelist"),
        {"action": "lift", "_selected_action": [lockout.pk]},
    )

    assert "ada" in page.content.decode()
    lockout.refresh_from_db()
    assert lockout.lifted_at == T0
    assert _sign_in(client, "ada", "pw").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_failures_counted_in_another_process_lock_the_username_here(client, clock):
    """Another web process (a real one here) records four failures; the fifth, in this
    process, locks the username: the count lives in the database, not in a process."""
    UserFactory(username="ada")
    script = (
        "import django; django.setup()\n"
        "from datetime import datetime, UTC\n"
        "from accounts.services import signin_failure_record\n"
        "for n in range(4):\n"
        "    signin_failure_record(username='ada', ip=f'10.1.0.{n}', "
        "now=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **_database_env(), "DJANGO_SETTINGS_MODULE": "sfe_portal.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    assert SignInFailure.objects.filter(username="ada").count() == 4

    fifth = _sign_in(client, "ada", "wrong")

    assert fifth.status_code == 429
    assert SignInLockout.objects.get().failures == 5


def test_a_lockout_is_logged_without_the_password(client, clock, caplog):
    UserFactory(username="ada")

    for _ in range(5):
        _sign_in(client, "ada", "hunter2-wrong")

    logged = [r.getMessage() for r in caplog.records if r.name == "accounts.services"]
    assert logged == [
        "Sign-in locked for username ada until 2026-11-23T09:15:00+00:00 after 5 failures"
    ]
    assert "hunter2" not in caplog.text


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    username=st.text(max_size=300),
    password=st.text(max_size=300),
    ip=st.sampled_from(["10.0.0.1", "::1", "2001:db8::1", ""]),
)
def test_odd_sign_in_input_gets_the_form_back_never_an_error(client, clock, username, password, ip):
    response = client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip or "127.0.0.1",
    )

    assert response.status_code in {200, 429}
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_signing_in_never_redirects_off_the_site(client, clock, next_url):
    UserFactory(username="ada")

    response = client.post(
        reverse("login"), {"username": "ada", "password": "pw", "next": next_url}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
