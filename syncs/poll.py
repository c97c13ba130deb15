"""Following a started sync: polling Codat with backoff until it ends."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from codat.backoff import Backoff
from gateway.exchanges import codat_client
from syncs.models import (
    Sync,
    SyncState,
)
from syncs.services import sync_status_fields
from syncs.settle import sync_reconcile

LONG_RUNNING_AFTER = timedelta(minutes=10)
POLL_BASE = timedelta(seconds=2)
POLL_CAP = timedelta(seconds=60)


logger = logging.getLogger(__name__)


POLLS = Backoff(first=POLL_BASE.total_seconds(), factor=1.5, cap=POLL_CAP.total_seconds())


def poll_delay(poll_count: int) -> timedelta:
    """2 s, 3 s, 4.5 s, … growing by half each time, never more than a minute (each up to a
    fifth shorter at random: the syncs of a push started together are polled apart)."""
    return timedelta(seconds=POLLS.delay(poll_count))


def sync_poll_due_in(*, sync: Sync, at_least: float = 1.0) -> float:
    """Seconds until the sync's next poll is due (set by its start or its last poll), never
    less than `at_least`."""
    if sync.next_poll_at is None:
        return max(at_least, POLL_BASE.total_seconds())
    return max(at_least, (sync.next_poll_at - timezone.now()).total_seconds())


def sync_poll(*, sync: Sync, now: datetime | None = None) -> Sync:
    """Ask Codat how the sync is doing; reconcile it when it has ended."""
    now = now or timezone.now()
    if sync.state != SyncState.IN_PROGRESS:
        return sync
    client = codat_client(company_id=sync.company_id)
    status = client.get_sync_status(str(sync.company.codat_company_id), str(sync.codat_sync_id))
    long_running = status.sync_status_code == 1010 or now - sync.requested_at > LONG_RUNNING_AFTER
    Sync.objects.filter(pk=sync.pk).update(
        **sync_status_fields(status),
        last_polled_at=now,
        poll_count=sync.poll_count + 1,
        is_long_running=long_running,
        next_poll_at=now + poll_delay(sync.poll_count + 1) if status.in_progress else None,
    )
    sync.refresh_from_db()
    if status.in_progress:
        return sync
    return sync_reconcile(sync=sync)


def sync_poll_soon(*, sync: Sync) -> bool:
    """Ask for the sync to be polled now (a webhook arrived, or support asked); False when it
    has already ended. The poll is sent after commit, so it sees what the caller wrote."""
    if sync.state != SyncState.IN_PROGRESS:
        return False
    from syncs.tasks import poll_sync  # tasks import this module

    sync_pk = sync.pk
    transaction.on_commit(lambda: poll_sync.delay(sync_pk))
    return True
