"""Settlers side by side (PostgreSQL): threads, each on a connection of its own, settle chunks of
an ended sync's results at once while the next chunks are read. Every expense still ends once,
the sync ends only when every chunk is settled, and a settler's failure leaves a sync the next
poll finishes."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from expenses.models import Expense, ExpenseEvent, ExpenseStatus
from syncs.models import Sync, SyncState, SyncTransaction
from tests.syncs.dashboard_data import pushable_company
from tests.syncs.test_settle import _sync_of

# Other threads only see what is committed: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only(settings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("settlers side by side need PostgreSQL; the PostgreSQL run checks them")
    settings.SYNC_SETTLERS = 2
    monkeypatch.setattr("syncs.settle.SETTLE_CHUNK", 3)


def _completed(expenses: list[Expense]) -> dict[str, Any]:
    return {
        str(e.pk): SimpleNamespace(status="Completed", message="", integration_type="")
        for e in expenses
    }


def _settled_once(sync: Sync, expenses: list[Expense]) -> None:
    assert Expense.objects.filter(status=ExpenseStatus.SYNCED).count() == len(expenses)
    events = ExpenseEvent.objects.filter(to_status=ExpenseStatus.SYNCED)
    assert sorted(events.values_list("expense_id", flat=True)) == sorted(e.pk for e in expenses)
    assert SyncTransaction.objects.filter(sync=sync, expense__isnull=False).count() == len(expenses)


def test_settlers_hold_their_chunks_at_once_and_settle_each_expense_once(monkeypatch):
    from syncs import settle as follow

    sync, expenses = _sync_of(pushable_company(), 11, code=2000, text="Completed")
    # Each settler waits inside its first chunk's transaction for the other: if the chunks
    # were settled one after the other, the barrier breaks.
    together = threading.Barrier(2, timeout=20)
    real_settle = follow.settle_chunk
    inside: list[str] = []

    def settle_chunk(*args: Any, **kwargs: Any) -> None:
        name = threading.current_thread().name
        if name.startswith("sync-settle") and name not in inside:
            inside.append(name)
            together.wait()
        real_settle(*args, **kwargs)

    monkeypatch.setattr(follow, "settle_chunk", settle_chunk)

    sync = follow.sync_settle(sync=sync, results=_completed(expenses))

    assert sorted(inside) == ["sync-settle-0", "sync-settle-1"]
    assert (sync.state, sync.transactions_completed, sync.transactions_failed) == (
        SyncState.SUCCEEDED,
        11,
        0,
    )
    _settled_once(sync, expenses)


def test_a_failed_settler_leaves_a_sync_the_next_poll_finishes(monkeypatch):
    from syncs import settle as follow

    sync, expenses = _sync_of(pushable_company(), 12, code=2000, text="Completed")
    real_settle = follow.settle_chunk
    calls = {"n": 0}
    lock = threading.Lock()

    def dies_on_the_second_chunk(*args: Any, **kwargs: Any) -> None:
        with lock:
            calls["n"] += 1
            n = calls["n"]
        if n == 2:
            raise RuntimeError("database went away")
        real_settle(*args, **kwargs)

    monkeypatch.setattr(follow, "settle_chunk", dies_on_the_second_chunk)
    results = _completed(expenses)
    with pytest.raises(RuntimeError, match="database went away"):
        follow.sync_settle(sync=sync, results=results)

    # The sync is still followed; what a settler committed stays (the first chunk, and one
    # already under way when the second failed), the failed chunk left nothing behind, and no
    # settler took another chunk once the failure was seen (that would make 9).
    assert Sync.objects.get(pk=sync.pk).state == SyncState.IN_PROGRESS
    settled = Expense.objects.filter(status=ExpenseStatus.SYNCED).count()
    assert settled in (3, 6)
    assert SyncTransaction.objects.filter(sync=sync).count() == settled

    monkeypatch.setattr(follow, "settle_chunk", real_settle)
    sync = follow.sync_settle(sync=Sync.objects.get(pk=sync.pk), results=results)

    assert (sync.state, sync.transactions_completed) == (SyncState.SUCCEEDED, 12)
    _settled_once(sync, expenses)


def test_a_sync_of_one_chunk_is_settled_without_settlers(monkeypatch):
    """A batch of the newer generation is a sync of its own: threads with connections of their
    own would cost it more than they save."""
    from syncs import settle as follow

    sync, expenses = _sync_of(pushable_company(), 3, code=2000, text="Completed")
    threads: list[str] = []
    real_settle = follow.settle_chunk

    def settle_chunk(*args: Any, **kwargs: Any) -> None:
        threads.append(threading.current_thread().name)
        real_settle(*args, **kwargs)

    monkeypatch.setattr(follow, "settle_chunk", settle_chunk)

    sync = follow.sync_settle(sync=sync, results=_completed(expenses))

    assert threads == [threading.current_thread().name]
    assert (sync.state, sync.transactions_completed) == (SyncState.SUCCEEDED, 3)
    _settled_once(sync, expenses)
