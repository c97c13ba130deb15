"""Sign-in locks (django-axes with the portal's two limits): repeated failures lock a username,
or a client address, for a while, with a clear message and 429; behind the load balancer each
client is counted by its own address. Counted in the database; time is moved, not waited for."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import axes.attempts
import axes.handlers.proxy
import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.lockouts import LockScope, lock_from_streaks, signin_lock
from tests.factories import StaffFactory, UserFactory
from tests.fake_clock import FakeClock
from tests.integration.conftest import ROOT, _database_env

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PROXY = "10.0.0.2"  # the load balancer, as the portal sees every request behind it


@pytest.fixture
def limits(settings):
    settings.SIGNIN_USERNAME_FAILURES = 5
    settings.SIGNIN_IP_FAILURES = 20
    settings.SIGNIN_LOCKOUT_MINUTES = 15
    settings.TRUSTED_PROXY_COUNT = 0
    return settings


@pytest.fixture
def clock(monkeypatch, limits):
    """Axes' time (each attempt's time, the rows it writes) and the admin's, moved by hand."""
    fake = FakeClock(T0)
    monkeypatch.setattr(timezone, "now", fake)
    monkeypatch.setattr(axes.handlers.proxy, "now", fake)
    monkeypatch.setattr(axes.attempts, "now", fake)
    return fake


def _sign_in(client, username, password, ip="10.0.0.1", url=None, **headers):
    return client.post(
        url or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
        **headers,
    )


def _behind_proxy(client, username, password, client_address):
    """A request through the load balancer, which adds the address it came from."""
    return _sign_in(client, username, password, ip=PROXY, HTTP_X_FORWARDED_FOR=client_address)


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
    lock = signin_lock(username="ada", ip=None, now=clock())
    assert (lock.scope, lock.key, lock.failures) == (LockScope.USERNAME, "ada", 5)
    assert lock.until == T0 + timedelta(minutes=15)


def test_the_lock_ends_after_its_minutes_and_the_count_starts_again(client, clock):
    UserFactory(username="ada")
    for _ in range(5):
        _sign_in(client, "ada", "wrong")

    clock.advance(minutes=14, seconds=59)
    still_locked = _sign_in(client, "ada", "pw")
    clock.advance(seconds=2)
    signed_in = _sign_in(client, "ada", "pw")

    assert still_locked.status_code == 429
    assert "(1 minute)" in still_locked.content.decode()
    assert signed_in.status_code == 302
    assert signed_in["Location"] == reverse("home")
    assert not AccessAttempt.objects.filter(username="ada").exists()


def test_a_failure_while_locked_does_not_move_the_end_of_the_lock(client, clock):
    UserFactory(username="ada")
    for _ in range(5):
        _sign_in(client, "ada", "wrong")

    clock.advance(minutes=10)
    again = _sign_in(client, "ada", "wrong")
    clock.advance(minutes=5, seconds=1)

    assert "locked until 09:15 UTC (5 minutes)" in again.content.decode()
    assert _sign_in(client, "ada", "pw").status_code == 302


def test_failures_further_apart_than_the_lock_do_not_add_up(client, clock):
    UserFactory(username="ada")

    for _ in range(4):
        _sign_in(client, "ada", "wrong")
    clock.advance(minutes=16)
    response = _sign_in(client, "ada", "wrong")

    assert response.status_code == 200
    assert signin_lock(username="ada", ip="10.0.0.1", now=clock()) is None


def test_a_good_sign_in_clears_the_failures_of_that_username(client, clock):
    UserFactory(username="ada")
    for _ in range(4):
        _sign_in(client, "ada", "wrong")

    assert _sign_in(client, "ada", "pw").status_code == 302
    client.logout()
    for _ in range(4):
        assert _sign_in(client, "ada", "wrong").status_code == 200

    assert signin_lock(username="ada", ip="10.0.0.1", now=clock()) is None


def test_a_good_sign_in_leaves_the_addresss_other_failures_counting(client, clock):
    """Signing in to one's own account now and then does not hide a spray from the same place."""
    UserFactory(username="grace")
    for n in range(19):
        _sign_in(client, f"guess{n}", "wrong", ip="203.0.113.9")

    assert _sign_in(client, "grace", "pw", ip="203.0.113.9").status_code == 302
    client.logout()
    twentieth = _sign_in(client, "guess19", "wrong", ip="203.0.113.9")

    assert twentieth.status_code == 429


def test_one_address_trying_many_usernames_is_locked(client, clock):
    UserFactory(username="grace")

    for n in range(20):
        _sign_in(client, f"guess{n}", "wrong", ip="203.0.113.9")
    from_there = _sign_in(client, "grace", "pw", ip="203.0.113.9")
    from_elsewhere = _sign_in(client, "grace", "pw", ip="198.51.100.2")

    assert from_there.status_code == 429
    assert "your network address" in from_there.content.decode()
    assert from_elsewhere.status_code == 302
    lock = signin_lock(username=None, ip="203.0.113.9", now=clock())
    assert (lock.scope, lock.failures) == (LockScope.IP, 20)


def test_a_locked_username_is_locked_from_every_address(client, clock):
    UserFactory(username="ada")
    for n in range(5):
        _sign_in(client, "ada", "wrong", ip=f"10.0.0.{n + 1}")

    assert _sign_in(client, "ada", "pw", ip="10.9.9.9").status_code == 429


def test_behind_the_proxy_each_client_is_counted_by_its_own_address(client, clock, limits):
    """Twenty failures from one client behind the load balancer lock that client only: another
    client coming through the same balancer signs in."""
    limits.TRUSTED_PROXY_COUNT = 1
    UserFactory(username="grace")

    for n in range(20):
        _behind_proxy(client, f"guess{n}", "wrong", "198.51.100.7")
    attacker = _behind_proxy(client, "grace", "pw", "198.51.100.7")
    grace = _behind_proxy(Client(), "grace", "pw", "203.0.113.40")

    assert attacker.status_code == 429
    assert grace.status_code == 302
    assert signin_lock(username=None, ip="198.51.100.7", now=clock()) is not None
    assert signin_lock(username=None, ip=PROXY, now=clock()) is None


def test_a_forged_forwarded_for_behind_the_proxy_does_not_dodge_the_address_lock(
    client, clock, limits
):
    """The client writes what it likes into X-Forwarded-For; the load balancer adds the real
    address on the right, and that is the one counted."""
    limits.TRUSTED_PROXY_COUNT = 1
    UserFactory(username="grace")

    for n in range(20):
        _behind_proxy(client, f"guess{n}", "wrong", f"192.0.2.{n}, 198.51.100.7")
    again = _behind_proxy(client, "grace", "pw", "192.0.2.99, 198.51.100.7")

    assert again.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}


def test_a_forged_forwarded_for_without_a_trusted_proxy_is_ignored(client, clock):
    """With no proxy configured, X-Forwarded-For is the client's own words: a new one on each
    try does not make a new client."""
    UserFactory(username="grace")

    def attempt(username, password, forged):
        return _sign_in(client, username, password, ip="203.0.113.9", HTTP_X_FORWARDED_FOR=forged)

    for n in range(20):
        attempt(f"guess{n}", "wrong", f"192.0.2.{n}")
    again = attempt("grace", "pw", "192.0.2.200")

    assert again.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


def test_the_admin_sign_in_shares_the_count_and_the_lock(client, clock):
    StaffFactory(username="root")

    for _ in range(3):
        _sign_in(client, "root", "wrong")
    for _ in range(2):
        _sign_in(client, "root", "wrong", url=reverse("admin:login"))
    response = _sign_in(client, "root", "pw", url=reverse("admin:login"))

    assert response.status_code == 429
    assert "Too many failed sign-ins for this username" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_support_can_lift_a_lock_in_the_admin(client, clock):
    UserFactory(username="ada")
    for _ in range(5):
        _sign_in(client, "ada", "wrong")
    row = AccessAttempt.objects.get()
    admin_client = Client()
    admin_client.force_login(StaffFactory(is_superuser=True))

    page = admin_client.get(reverse("admin:accounts_signinlockout_changelist"))
    admin_client.post(
        reverse("admin:accounts_signinlockout_changelist"),
        {"action": "lift", "_selected_action": [row.pk]},
    )

    text = page.content.decode()
    assert "ada" in text
    assert "Username until 09:15 UTC" in text
    assert signin_lock(username="ada", ip="10.0.0.1", now=clock()) is None
    assert _sign_in(client, "ada", "pw").status_code == 302


def test_the_admins_list_of_locks_reads_them_in_one_query(clock, django_assert_max_num_queries):
    for n in range(30):
        AccessAttempt.objects.create(
            username=f"guess{n}", ip_address="203.0.113.9", user_agent="x", failures_since_start=1
        )
    admin_client = Client()
    admin_client.force_login(StaffFactory(is_superuser=True))

    with django_assert_max_num_queries(12):
        page = admin_client.get(reverse("admin:accounts_signinlockout_changelist"))

    assert page.content.decode().count("Client address until 09:15 UTC") == 30


@pytest.mark.parametrize(
    ("command", "argument"), [("axes_reset_username", "ada"), ("axes_reset_ip", "10.0.0.1")]
)
def test_a_command_lifts_a_lock(client, clock, command, argument):
    UserFactory(username="ada")
    for _ in range(5):
        _sign_in(client, "ada", "wrong")

    call_command(command, argument, stdout=open(os.devnull, "w"))  # noqa: SIM115

    assert _sign_in(client, "ada", "pw").status_code == 302


def test_a_lock_ends_when_the_failure_that_reached_the_limit_stops_counting(limits):
    """Older rows stop counting first: three failures at 09:00 and two at 09:05 make a lock
    that ends at 09:15, when the 09:00 row drops out."""
    rows = [(T0, 3), (T0 + timedelta(minutes=5), 2)]

    lock = lock_from_streaks(LockScope.USERNAME, "ada", rows, now=T0 + timedelta(minutes=6))
    newer_reach_it = lock_from_streaks(
        LockScope.USERNAME, "ada", [(T0, 1), (T0 + timedelta(minutes=5), 5)], now=T0
    )

    assert lock.until == T0 + timedelta(minutes=15)
    assert lock.failures == 5
    assert newer_reach_it.until == T0 + timedelta(minutes=20)
    assert lock_from_streaks(LockScope.USERNAME, "ada", rows[:1], now=T0) is None


@pytest.mark.django_db(transaction=True)
def test_failures_counted_in_another_process_lock_the_username_here(client, limits):
    """Another web process (a real one here) refuses four sign-ins; the fifth, in this process,
    locks the username: the count lives in the database, not in a process."""
    UserFactory(username="ada")
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "client = Client()\n"
        "for n in range(4):\n"
        "    response = client.post('/accounts/login/', {'username': 'ada', 'password': 'x'},"
        " REMOTE_ADDR=f'10.1.0.{n}')\n"
        "    assert response.status_code == 200, response.status_code\n"
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
    assert AccessAttempt.objects.filter(username="ada").count() == 4

    fifth = _sign_in(client, "ada", "wrong")

    assert fifth.status_code == 429


def test_a_lockout_is_logged_and_stored_without_the_password(client, clock, caplog):
    UserFactory(username="ada")

    for _ in range(5):
        _sign_in(client, "ada", "hunter2-wrong")

    logged = [r.getMessage() for r in caplog.records if r.name == "accounts.lockouts"]
    assert logged == [
        "Sign-in locked for username ada until 2026-11-23T09:15:00+00:00 after 5 failures"
    ]
    assert "hunter2" not in caplog.text
    assert "hunter2" not in "".join(AccessAttempt.objects.values_list("post_data", flat=True))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    username=st.text(max_size=300),
    password=st.text(max_size=300),
    ip=st.sampled_from(["10.0.0.1", "::1", "2001:db8::1", ""]),
    forwarded=st.text(max_size=60),
)
def test_odd_sign_in_input_gets_the_form_back_never_an_error(
    client, clock, limits, username, password, ip, forwarded
):
    limits.TRUSTED_PROXY_COUNT = 1
    response = client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip or "127.0.0.1",
        HTTP_X_FORWARDED_FOR=forwarded,
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
