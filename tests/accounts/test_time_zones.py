"""Each person sees dates and times in their own time zone: chosen on their settings page,
remembered in their session, applied to every page and to the queue's rows."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Profile
from accounts.time_zones import SESSION_KEY
from companies.models import Role
from expenses.models import EventKind, ExpenseEvent
from sfe_portal.jinja_env import environment
from syncs.models import Sync
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, MembershipFactory, SyncFactory

pytestmark = pytest.mark.django_db

NOON_UTC = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def _signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def member():
    books = make_books()
    return MembershipFactory(company=books.company, role=Role.APPROVER)


def test_a_person_chooses_their_zone_and_every_page_shows_it(member):
    client = _signed_in(member.user)
    sync = SyncFactory(company=member.company)
    Sync.objects.filter(pk=sync.pk).update(requested_at=NOON_UTC)
    sync_page = reverse("sync-detail", args=[member.company.pk, sync.pk])
    assert "1 Jul 2026 12:00:00" in client.get(sync_page).content.decode()

    saved = client.post(reverse("personal-settings"), {"time_zone": "Asia/Tokyo"}, follow=True)

    assert "Dates and times are now shown in Asia/Tokyo." in saved.content.decode()
    assert Profile.objects.get(user=member.user).time_zone == "Asia/Tokyo"
    assert "1 Jul 2026 21:00:00" in client.get(sync_page).content.decode()


def test_the_zone_comes_back_at_the_next_sign_in(member):
    Profile.objects.create(user=member.user, time_zone="America/New_York")
    member.user.set_password("pw")
    member.user.save()
    client = Client()
    client.post(reverse("login"), {"username": member.user.username, "password": "pw"})
    expense = ExpenseFactory(company=member.company)
    event = ExpenseEvent.objects.create(expense=expense, kind=EventKind.CODED, message="Coded")
    ExpenseEvent.objects.filter(pk=event.pk).update(created_at=NOON_UTC)

    page = client.get(reverse("expense-detail", args=[member.company.pk, expense.pk]))

    assert client.session[SESSION_KEY] == "America/New_York"
    assert "1 Jul 2026 08:00" in page.content.decode()


def test_an_unknown_zone_is_refused_naming_the_field_and_nothing_changes(member):
    Profile.objects.create(user=member.user, time_zone="Europe/London")
    client = _signed_in(member.user)

    response = client.post(reverse("personal-settings"), {"time_zone": "Mars/Olympus"})

    assert response.status_code == 400
    assert "“Mars/Olympus” is not a time zone" in response.content.decode()
    assert Profile.objects.get(user=member.user).time_zone == "Europe/London"


def test_the_default_zone_is_the_portals(member, settings):
    settings.TIME_ZONE = "UTC"
    client = _signed_in(member.user)

    page = client.get(reverse("personal-settings")).content.decode()

    assert "The portal&#x27;s default (UTC)" in page or "The portal's default (UTC)" in page


def test_the_queues_rows_write_times_in_the_current_zone():
    from django.utils import timezone

    with timezone.override("Asia/Tokyo"):
        text = environment().from_string('{{ t|date("j M H:i") }}').render(t=NOON_UTC)

    assert text == "1 Jul 21:00"


def test_pages_read_the_zone_from_the_session_without_a_query(member, django_assert_num_queries):
    client = _signed_in(member.user)
    client.get(reverse("personal-settings"))  # the first request remembers it
    session = client.session
    assert SESSION_KEY in session

    from accounts.time_zones import UserTimeZoneMiddleware

    seen = []
    middleware = UserTimeZoneMiddleware(lambda request: seen.append(request) or None)

    class _Request:
        user = member.user

    request = _Request()
    request.session = {SESSION_KEY: "Europe/Paris"}
    with django_assert_num_queries(0):
        middleware(request)
    assert seen == [request]
