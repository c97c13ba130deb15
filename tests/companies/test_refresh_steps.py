"""The refresh's steps and schedule: polling dataStatus never sleeps, gives up waiting after a
bounded time, and the daily beat entry covers the connected companies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from companies.models import CompanyStatus
from companies.refresh import (
    REFRESH_POLL_LIMIT,
    PollOutcome,
    company_refresh_due,
    company_refresh_poll,
    company_refresh_pull,
    company_refresh_start,
)
from sandbox.models import SandboxSettings
from tests.factories import CompanyFactory, SupportFactory


@pytest.mark.django_db(transaction=True)
def test_the_poll_waits_for_codat_then_gives_up_waiting_after_the_limit(sandbox, ready_company):
    company = ready_company()
    before = company.master_data_refreshed_at
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=3_600_000)  # an hour to fetch
    started = timezone.now()

    assert company_refresh_start(company=company, now=started)
    assert company_refresh_poll(company=company, now=started) == PollOutcome.WAIT
    assert (
        company_refresh_poll(company=company, now=started + REFRESH_POLL_LIMIT) == PollOutcome.PULL
    )

    # Data fetched before stays readable while the new fetch runs: the pull still succeeds.
    company_refresh_pull(company=company, now=started + REFRESH_POLL_LIMIT)
    company.refresh_from_db()
    assert company.master_data_refreshed_at > before
    assert company.refresh_started_at is None
    assert company_refresh_poll(company=company) == PollOutcome.STOPPED


@pytest.mark.django_db(transaction=True)
def test_refresh_now_on_the_settings_page_pulls_and_shows_freshness(sandbox, ready_company, client):
    company = ready_company()
    client.force_login(SupportFactory())

    response = client.post(reverse("company-refresh", args=[company.pk]), follow=True)

    body = response.content.decode()
    assert "Refreshing the chart of accounts" in body
    assert "Pulled now." in body or "seconds ago" in body
    company.refresh_from_db()
    assert company.last_error == ""


@pytest.mark.django_db
def test_the_daily_refresh_covers_connected_companies_without_a_refresh_under_way():
    now = timezone.now()
    ready = CompanyFactory(status=CompanyStatus.READY)
    configuring = CompanyFactory(status=CompanyStatus.NEEDS_CONFIGURATION)
    CompanyFactory(status=CompanyStatus.READY, refresh_started_at=now - timedelta(minutes=1))
    stuck = CompanyFactory(status=CompanyStatus.READY, refresh_started_at=now - timedelta(hours=2))
    CompanyFactory(status=CompanyStatus.AWAITING_LINK)
    CompanyFactory(status=CompanyStatus.DISCONNECTED)

    assert sorted(company_refresh_due(now=now)) == sorted([ready.pk, configuring.pk, stuck.pk])
    entry = django_settings.CELERY_BEAT_SCHEDULE["companies-refresh-all"]
    assert entry["task"] == "companies.refresh_all"


@pytest.mark.django_db
def test_an_eager_link_check_looks_once_and_does_not_loop(settings):
    """Without a worker, countdowns mean nothing: the chain stops after one look."""
    from companies import tasks
    from gateway.models import CodatExchange
    from tests.factories import ConnectionFactory

    settings.CODAT_BASE_URL = "http://127.0.0.1:9/codat"  # nothing listens: a transient failure
    company = CompanyFactory(status=CompanyStatus.AWAITING_LINK)
    ConnectionFactory(company=company, status="PendingAuth")

    tasks.link_check.delay(company.pk)

    company.refresh_from_db()
    assert "could not be reached" in company.last_error
    assert company.last_error_step == "link"
    assert CodatExchange.objects.filter(company=company).count() <= 20
