"""The workspace's push panel: what it says about the latest syncs, and what it costs."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from expenses.models import ExpenseStatus
from syncs.models import BatchState, PushBatch, PushBatchItem, Sync, UploadState
from syncs.selectors import push_panel
from tests.factories import ReceiptFactory, ReceiptUploadFactory, SyncFactory
from tests.syncs.dashboard_data import coded_expense, pushable_company


@pytest.fixture
def books(db):
    return pushable_company(name="Acme Ltd")


def _sync_with(books, *, at, synced=0, failed=0, in_flight=0, pending_batches=0, receipts=(0, 0)):
    sync = SyncFactory(company=books.company)
    Sync.objects.filter(pk=sync.pk).update(requested_at=at)  # set on creation otherwise
    batch = PushBatch.objects.create(
        company=books.company, sync=sync, state=BatchState.POSTED, dataset_id=uuid.uuid4()
    )
    for _ in range(pending_batches):
        PushBatch.objects.create(company=books.company, sync=sync, state=BatchState.PENDING)
    statuses = (
        [ExpenseStatus.SYNCED] * synced
        + [ExpenseStatus.FAILED] * failed
        + [ExpenseStatus.SYNCING] * in_flight
    )
    for status in statuses:
        expense = coded_expense(books, status=status)
        PushBatchItem.objects.create(batch=batch, expense=expense)
    uploaded, waiting = receipts
    for state, n in ((UploadState.UPLOADED, uploaded), (UploadState.PENDING, waiting)):
        for _ in range(n):
            ReceiptUploadFactory(
                sync=sync,
                receipt=ReceiptFactory(expense=expense),
                state=state,
                codat_attachment_id="att-1" if state == UploadState.UPLOADED else "",
            )
    return sync


def test_each_recent_sync_shows_its_own_progress_newest_first(books):
    now = timezone.now()
    old = _sync_with(books, at=now - timedelta(days=3), synced=1)
    done = _sync_with(books, at=now - timedelta(hours=2), synced=3, failed=1, receipts=(2, 0))
    running = _sync_with(books, at=now, synced=1, in_flight=2, pending_batches=2, receipts=(1, 2))
    _sync_with(books, at=now - timedelta(days=9), synced=5)  # beyond the three shown
    coded_expense(books, status=ExpenseStatus.APPROVED)

    panel = push_panel(company=books.company)

    assert [p.sync for p in panel.recent] == [running, done, old]
    shown = {
        p.sync.pk: (
            p.batches_posted,
            p.batches_total,
            p.expenses,
            p.synced,
            p.failed,
            p.receipts_uploaded,
            p.receipts_total,
        )
        for p in panel.recent
    }
    assert shown == {
        running.pk: (1, 3, 3, 1, 0, 1, 3),
        done.pk: (1, 1, 4, 3, 1, 2, 2),
        old.pk: (1, 1, 1, 1, 0, 0, 0),
    }
    assert panel.ready_to_push == 1


def test_the_panel_costs_the_same_queries_whatever_the_syncs_hold(books, django_assert_num_queries):
    now = timezone.now()
    for hours in range(4):
        _sync_with(books, at=now - timedelta(hours=hours), synced=3, failed=1, receipts=(1, 1))

    # The syncs with their progress; the approved count; the connections and configuration
    # behind the push blockers.
    with django_assert_num_queries(4):
        push_panel(company=books.company)
    # A caller that counted the approved expenses already saves that query.
    with django_assert_num_queries(3):
        push_panel(company=books.company, ready_to_push=7)
