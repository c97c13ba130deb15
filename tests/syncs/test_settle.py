"""Settling an ended sync a chunk of results at a time: every expense ends synced or failed
exactly once, those Codat gave no result for fail with the sync's reason, and a crash while
settling keeps the chunks settled before it and leaves the sync followed, so settling again
does the rest, each expense once."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from expenses.models import Expense, ExpenseEvent, ExpenseStatus
from syncs.models import BatchState, PushBatch, PushBatchItem, Sync, SyncState, SyncTransaction
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db


def _sync_of(
    books: Any, count: int, *, code: int = 5120, text: str = "ValidateError"
) -> tuple[Sync, list[Expense]]:
    """An ended sync (by default one that failed validation) of `count` expenses syncing."""
    sync = Sync.objects.create(
        company=books.company,
        state=SyncState.IN_PROGRESS,
        codat_sync_id=uuid.uuid4(),
        status_code=code,
        status_text=text,
    )
    batch = PushBatch.objects.create(
        company=books.company, sync=sync, state=BatchState.SYNC_REQUESTED, dataset_id=uuid.uuid4()
    )
    expenses = [coded_expense(books, status=ExpenseStatus.SYNCING) for _ in range(count)]
    PushBatchItem.objects.bulk_create(PushBatchItem(batch=batch, expense=e) for e in expenses)
    return sync, expenses


def _result(status: str, message: str = "") -> SimpleNamespace:
    return SimpleNamespace(status=status, message=message, integration_type="")


def test_a_sync_settles_in_chunks_and_every_expense_ends_once(monkeypatch):
    from syncs.settle import sync_settle

    monkeypatch.setattr("syncs.settle.SETTLE_CHUNK", 2)
    sync, expenses = _sync_of(pushable_company(), 6)
    *written, refused, unanswered = expenses
    results = {str(e.pk): _result("Completed") for e in written}
    results[str(refused.pk)] = _result("ValidationError", "Account 400 is archived")
    stranger = str(uuid.uuid4())  # a transaction of no expense in this sync
    results[stranger] = _result("Completed")

    sync = sync_settle(sync=sync, results=results)

    statuses = dict(Expense.objects.values_list("pk", "status"))
    assert [statuses[e.pk] for e in written] == [ExpenseStatus.SYNCED] * 4
    assert statuses[refused.pk] == statuses[unanswered.pk] == ExpenseStatus.FAILED
    unanswered.refresh_from_db()
    assert "ended with code 5120" in unanswered.failure_message
    refused.refresh_from_db()
    assert "archived" in refused.failure_message
    assert (sync.state, sync.transactions_completed, sync.transactions_failed) == (
        SyncState.FAILED,
        5,
        1,
    )
    assert SyncTransaction.objects.get(sync=sync, transaction_id=stranger).expense is None
    assert set(PushBatch.objects.values_list("state", flat=True)) == {BatchState.DONE}


def test_a_crash_while_settling_keeps_what_was_settled_and_settling_again_moves_each_once(
    monkeypatch,
):
    from syncs import settle as follow

    monkeypatch.setattr("syncs.settle.SETTLE_CHUNK", 2)
    sync, expenses = _sync_of(pushable_company(), 5)
    results = {str(e.pk): _result("Completed") for e in expenses}
    settle_expenses = follow.settle_expenses
    calls = {"n": 0}

    def crash_on_the_second_chunk(sync: Sync, completed: Any, failed: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker lost")
        settle_expenses(sync, completed, failed, **kwargs)

    monkeypatch.setattr(follow, "settle_expenses", crash_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        follow.sync_settle(sync=sync, results=results)
    # A chunk's results are kept and settled in one transaction: the first chunk stays kept
    # and settled, nothing of the second, and the sync is still followed, not ended.
    assert SyncTransaction.objects.filter(sync=sync).count() == 2
    assert Sync.objects.get(pk=sync.pk).state == SyncState.IN_PROGRESS
    assert Expense.objects.filter(status=ExpenseStatus.SYNCED).count() == 2
    assert Expense.objects.filter(status=ExpenseStatus.SYNCING).count() == 3

    sync = follow.sync_settle(sync=Sync.objects.get(pk=sync.pk), results=results)

    assert sync.state == SyncState.FAILED  # 5120
    assert Expense.objects.filter(status=ExpenseStatus.SYNCED).count() == 5
    synced_events = ExpenseEvent.objects.filter(to_status=ExpenseStatus.SYNCED)
    assert sorted(synced_events.values_list("expense_id", flat=True)) == sorted(
        e.pk for e in expenses
    )
    assert SyncTransaction.objects.filter(sync=sync).count() == 5


def test_settling_again_leaves_alone_an_expense_that_moved_on_since_its_chunk_was_settled(
    monkeypatch,
):
    from syncs import settle as follow

    monkeypatch.setattr("syncs.settle.SETTLE_CHUNK", 2)
    sync, expenses = _sync_of(pushable_company(), 4, code=2000, text="Completed")
    refused, *written = expenses
    results = {str(refused.pk): _result("ValidationError", "Account 400 is archived")}
    results |= {str(e.pk): _result("Completed") for e in written}
    settle_chunk = follow.settle_chunk
    calls = {"n": 0}

    def crash_on_the_second_chunk(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker lost")
        settle_chunk(*args, **kwargs)

    monkeypatch.setattr(follow, "settle_chunk", crash_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        follow.sync_settle(sync=sync, results=results)
    assert Expense.objects.get(pk=refused.pk).status == ExpenseStatus.FAILED
    # Before the next poll, the refused expense is fixed and pushed again in a newer sync.
    Expense.objects.filter(pk=refused.pk).update(status=ExpenseStatus.SYNCING)
    monkeypatch.setattr(follow, "settle_chunk", settle_chunk)

    sync = follow.sync_settle(sync=Sync.objects.get(pk=sync.pk), results=results)

    # This sync's word on it was given once: the newer sync's expense is left as it is.
    assert Expense.objects.get(pk=refused.pk).status == ExpenseStatus.SYNCING
    assert ExpenseEvent.objects.filter(expense=refused, to_status=ExpenseStatus.FAILED).count() == 1
    assert Expense.objects.filter(status=ExpenseStatus.SYNCED).count() == 3
    assert (sync.state, sync.transactions_completed, sync.transactions_failed) == (
        SyncState.SUCCEEDED,
        3,
        1,
    )


def test_duplicate_protection_settles_as_synced_only_what_an_earlier_sync_of_ours_completed():
    """Codat's 5080 refuses a whole dataset when one of its transactions was written before. An
    expense an earlier sync of ours completed is in the ledger already: synced, not failed."""
    from syncs import settle as follow

    books = pushable_company()
    earlier, (done, refused) = _sync_of(books, 2, code=2000, text="Completed")
    follow.sync_settle(
        sync=earlier,
        results={
            str(done.pk): _result("Completed"),
            str(refused.pk): _result("ValidationError", "Account 400 is archived"),
        },
    )
    # Both go out again with a new one (a retry, say): Codat refuses that sync whole.
    duplicate, (fresh,) = _sync_of(books, 1, code=5080, text="ValidationError")
    batch = duplicate.batches.get()
    PushBatchItem.objects.bulk_create(
        PushBatchItem(batch=batch, expense=e) for e in [done, refused]
    )
    Expense.objects.filter(pk__in=[done.pk, refused.pk]).update(status=ExpenseStatus.SYNCING)
    message = f"One or more transactions have previously been processed: {done.pk}"
    results = {str(e.pk): _result("ValidationError", message) for e in [done, refused, fresh]}

    follow.sync_settle(sync=duplicate, results=results)

    statuses = dict(Expense.objects.values_list("pk", "status"))
    assert statuses[done.pk] == ExpenseStatus.SYNCED
    assert statuses[refused.pk] == statuses[fresh.pk] == ExpenseStatus.FAILED
    # Only a completion counts: an earlier refusal, or this sync's own results, do not.
    assert not follow.completed_in_other_syncs(duplicate, [str(fresh.pk), str(refused.pk)]).exists()
