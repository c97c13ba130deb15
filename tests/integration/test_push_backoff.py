"""A long push under steady intermittent faults keeps moving: the backoff of `send_batches`
counts turns in a row that posted nothing, not every fault since the push began."""

import pytest

from companies.platforms import Platform
from reliability.seed import expenses_bulk
from syncs.models import BatchState, PushBatch
from syncs.tasks import MAX_RETRIES, push_company, send_batches_next_try
from tests.integration.sandbox_company import control, onboard

pytestmark = pytest.mark.django_db(transaction=True)


class Unavailable(Exception):
    retry_after = None


class RateLimited(Exception):
    retry_after = 3


def test_a_turn_that_posted_something_starts_the_backoff_again():
    assert send_batches_next_try(stalls=7, progressed=True, exc=Unavailable()) == (0, 1.0)


def test_turns_that_post_nothing_back_off_exponentially_up_to_five_minutes():
    waits = []
    stalls = 0
    for _ in range(9):
        stalls, wait = send_batches_next_try(stalls=stalls, progressed=False, exc=Unavailable())
        waits.append(wait)
    longest = [5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert all(0.8 * most <= wait <= most for wait, most in zip(waits, longest, strict=True))
    assert stalls == 9


def test_codat_retry_after_wins_over_the_backoff():
    assert send_batches_next_try(stalls=3, progressed=False, exc=RateLimited()) == (4, 3.0)


@pytest.fixture
def sandbox(live_server, settings):
    from sandbox.models import SandboxSettings

    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    yield
    control("DELETE", "faults")


def test_a_push_with_more_faulted_turns_than_retries_still_posts_every_dataset(sandbox):
    books = onboard(Platform.XERO)
    datasets = MAX_RETRIES + 3
    expenses_bulk(company=books.company, count=50 * datasets)
    # Every second Codat call answers 429: each turn posts one dataset, then is cut short.
    control("PUT", "faults", {"rate_limit_every": 2, "retry_after_s": 1})

    push_company.delay(books.company.pk)  # eager: every retry runs at once, nothing waits

    batches = PushBatch.objects.filter(company=books.company)
    assert batches.count() == datasets
    assert not batches.filter(state=BatchState.PENDING).exists()
    # Each dataset went out once: one per batch, none posted twice.
    assert batches.values("dataset_id").distinct().count() == datasets
