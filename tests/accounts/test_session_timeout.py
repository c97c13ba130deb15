"""Sessions end after SESSION_IDLE_TIMEOUT_MINUTES without a request and SESSION_MAX_AGE_HOURS
after signing in, and the sign-in page says why. The clock is replaced, never waited for."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts import session_timeout
from tests.factories import UserFactory
from tests.fake_clock import FakeClock

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HTMX = {"HX-Request": "true", "HX-Current-URL": "http://testserver/companies/?q=harbour"}


@pytest.fixture
def clock(monkeypatch):
    clock = FakeClock(START)
    monkeypatch.setattr(session_timeout, "clock", clock)
    return clock


@pytest.fixture
def signed_in(client, clock):
    user = UserFactory()
    client.force_login(user)
    return user


def _home(client, **headers):
    return client.get(reverse("home"), headers=headers)


def _signed_in(client):
    return "_auth_user_id" in client.session


def test_defaults_suit_a_finance_tool(settings):
    assert settings.SESSION_IDLE_TIMEOUT_MINUTES == 30
    assert settings.SESSION_MAX_AGE_HOURS == 12
    assert settings.SESSION_COOKIE_AGE == 12 * 3600


def test_activity_within_the_idle_timeout_keeps_the_session(client, clock, signed_in):
    for _ in range(6):  # three hours, a request every 29 minutes
        clock.advance(minutes=29)
        assert _home(client).status_code == 200

    assert _signed_in(client)


def test_thirty_idle_minutes_sign_out_and_the_sign_in_page_says_why(client, clock, signed_in):
    assert _home(client).status_code == 200
    clock.advance(minutes=30)

    response = client.get(reverse("home"), follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert not _signed_in(client)
    assert "You were signed out after 30 minutes without activity" in response.content.decode()


def test_a_busy_session_still_ends_at_its_absolute_lifetime(client, clock, signed_in):
    for _ in range(11 * 4 + 3):  # 11 h 45 min of a request every quarter hour
        clock.advance(minutes=15)
        assert _home(client).status_code == 200
    clock.advance(minutes=15)

    response = client.get(reverse("home"), follow=True)

    assert not _signed_in(client)
    assert "a session lasts at most 12 hours" in response.content.decode()


def test_the_timeouts_come_from_settings(client, clock, signed_in, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 5
    clock.advance(minutes=4)
    assert _home(client).status_code == 200

    clock.advance(minutes=5)

    response = client.get(reverse("home"), follow=True)
    assert "after 5 minutes without activity" in response.content.decode()


def test_an_idle_htmx_request_sends_the_whole_page_to_sign_in(client, clock, signed_in):
    clock.advance(minutes=31)

    response = _home(client, **HTMX)

    assert response["HX-Redirect"] == reverse("login") + "?next=%2Fcompanies%2F%3Fq%3Dharbour"
    assert not _signed_in(client)


def test_an_htmx_request_from_another_site_is_sent_home_after_sign_in(client, clock, signed_in):
    clock.advance(minutes=31)

    response = _home(client, **{**HTMX, "HX-Current-URL": "https://evil.example/x"})

    assert response["HX-Redirect"] == reverse("login") + "?next=%2F"


def test_signing_in_again_starts_both_clocks_afresh(client, clock, signed_in):
    clock.advance(hours=13)
    client.get(reverse("home"))  # signed out
    client.force_login(signed_in)

    clock.advance(minutes=29)

    assert _home(client).status_code == 200
    assert _signed_in(client)


def test_requests_within_a_minute_do_not_save_the_session_again(client, clock, signed_in):
    _home(client)
    clock.advance(seconds=59)
    before = dict(client.session)

    _home(client)

    assert dict(client.session) == before


def test_the_admin_s_sign_in_page_says_why_too(clock, admin_client):
    admin_client.get(reverse("admin:index"))
    clock.advance(minutes=30)

    response = admin_client.get(reverse("admin:index"), follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("admin:login"))
    assert "You were signed out after 30 minutes without activity" in response.content.decode()
