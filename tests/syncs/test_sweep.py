"""The sweeper resumes a push a dead worker dropped once it has gone quiet, once per company:
in the newer generation a push is a sync per batch, and the syncs waiting their turn behind
the ones being sent are not a quiet push."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from companies.platforms import ApiGeneration
from syncs import tasks
from syncs.models import BatchState, Sync, SyncState
from syncs.selectors import quiet_pushes
from tests.factories import CompanyFactory, PushBatchFactory, SyncFactory

pytestmark = pytest.mark.django_db

THRESHOLD = timedelta(minutes=15)


def _waiting_syncs(company, count: int, *, requested_ago: timedelta) -> list[Sync]:
    """`count` syncs of one push, each with its batch still to send (requested that long ago)."""
    syncs = []
    for _ in range(count):
        sync = SyncFactory(company=company, expenses_api=ApiGeneration.EXPENSES)
        Sync.objects.filter(pk=sync.pk).update(requested_at=timezone.now() - requested_ago)
        PushBatchFactory(company=company, sync=sync, expenses_api=ApiGeneration.EXPENSES)
        syncs.append(sync)
    return syncs


def _started(company) -> Sync:
    return SyncFactory(company=company, state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4())


def test_a_quiet_push_of_many_syncs_is_resumed_once_and_one_still_sending_is_left_alone(
    monkeypatch,
):
    dropped, sending, fresh = CompanyFactory(), CompanyFactory(), CompanyFactory()
    _waiting_syncs(dropped, 3, requested_ago=THRESHOLD * 2)
    _waiting_syncs(sending, 3, requested_ago=THRESHOLD * 2)
    # Its earlier batch went out moments ago: the rest wait their turn behind it.
    started = _started(sending)
    PushBatchFactory(
        company=sending,
        sync=started,
        state=BatchState.SYNC_REQUESTED,
        posted_at=timezone.now() - timedelta(seconds=10),
    )
    _waiting_syncs(fresh, 2, requested_ago=timedelta(minutes=1))
    resumed: list[int] = []
    monkeypatch.setattr(tasks.push_company, "delay", resumed.append)

    tasks.sweep(stale_initiating_s=THRESHOLD.total_seconds())

    assert resumed == [dropped.pk]
    assert quiet_pushes(quiet_since=timezone.now() - THRESHOLD) == [dropped.pk]


def test_a_push_whose_last_batch_went_out_before_the_threshold_is_quiet():
    company = CompanyFactory()
    _waiting_syncs(company, 2, requested_ago=THRESHOLD * 2)
    PushBatchFactory(
        company=company,
        sync=_started(company),
        state=BatchState.SYNC_REQUESTED,
        posted_at=timezone.now() - THRESHOLD - timedelta(seconds=1),
    )

    assert quiet_pushes(quiet_since=timezone.now() - THRESHOLD) == [company.pk]
