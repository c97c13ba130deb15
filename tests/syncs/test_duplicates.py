"""Codat's duplicate protection (5080) in the newer generation: an expense refused as written
before, that no sync of ours completed, is investigated, never failed. Found written by a sync
the portal never recorded, that sync is imported and the expense synced with it; not found, the
expense waits for support with the reason, and nothing sends it again. v1 is unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from codat import CodatUnavailableError, SyncStatus, TransactionMetadata
from codat.expenses_api import CompletedSync
from companies.platforms import ApiGeneration
from expenses.models import Expense, ExpenseStatus
from syncs.duplicates import named_as_duplicate
from syncs.models import (
    BatchState,
    PushBatch,
    PushBatchItem,
    ReceiptUpload,
    Sync,
    SyncState,
    SyncTransaction,
)
from syncs.plain_words import plain_words
from syncs.retry import sync_retry_failed
from syncs.settle import sync_settle
from tests.factories import ExpenseFactory, ReceiptFactory
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db

DUPLICATE = "One or more transactions have previously been processed: {ids}"
NOT_PROCESSED = (
    "Not processed: the sync was stopped by duplicate protection (One or more transactions "
    "have previously been processed: {ids})."
)
WRITTEN_AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _sync_of(books: Any, expenses: list[Expense], *, api: str = ApiGeneration.EXPENSES) -> Sync:
    """A sync of `expenses` (syncing) that Codat ended with its duplicate protection."""
    sync = Sync.objects.create(
        company=books.company,
        expenses_api=api,
        state=SyncState.IN_PROGRESS,
        codat_sync_id=uuid.uuid4(),
        status_code=5080,
        status_text="Error",
    )
    batch = PushBatch.objects.create(
        company=books.company,
        sync=sync,
        state=BatchState.SYNC_REQUESTED,
        expenses_api=api,
        idempotency_key=uuid.uuid4() if api == ApiGeneration.EXPENSES else None,
        dataset_id=None if api == ApiGeneration.EXPENSES else uuid.uuid4(),
    )
    PushBatchItem.objects.bulk_create(PushBatchItem(batch=batch, expense=e) for e in expenses)
    return sync


def _refused(duplicate: Expense, others: list[Expense]) -> dict[str, SimpleNamespace]:
    """Codat's results of a 5080 sync: `duplicate` written before, `others` left unprocessed."""
    results = {
        str(duplicate.pk): SimpleNamespace(
            status="ValidationError", message=DUPLICATE.format(ids=duplicate.pk)
        )
    }
    for other in others:
        results[str(other.pk)] = SimpleNamespace(
            status="ValidationError", message=NOT_PROCESSED.format(ids=duplicate.pk)
        )
    return results


class Codat:
    """The company's syncs as Codat lists them, for `find_syncs_completing`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.completed: dict[str, CompletedSync] = {}
        self.failure: Exception | None = None
        self.searches: list[dict[str, Any]] = []
        monkeypatch.setattr("syncs.duplicates.find_syncs_completing", self.find)

    def wrote(self, sync_id: str, *expenses: Expense, also: tuple[str, ...] = ()) -> None:
        transactions = tuple(
            TransactionMetadata(str(pk), "Completed", "Expense created in Xero.", "expenses")
            for pk in [*(e.pk for e in expenses), *also]
        )
        status = SyncStatus(
            sync_id=sync_id,
            company_id=None,
            sync_status_code=2000,
            sync_status="Complete",
            error_message=None,
            sync_exception_message=None,
            sync_utc=WRITTEN_AT,
            data_pushed=True,
        )
        for expense in expenses:
            self.completed[str(expense.pk)] = CompletedSync(status, transactions)

    def find(self, client: Any, company_id: str, ids: Any, **options: Any) -> Any:
        self.searches.append({"ids": sorted(ids), **options})
        if self.failure is not None:
            raise self.failure
        return {i: self.completed[i] for i in ids if i in self.completed}


@pytest.fixture
def codat(monkeypatch: pytest.MonkeyPatch) -> Codat:
    return Codat(monkeypatch)


def test_the_duplicate_sentence_names_the_transaction_it_is_about():
    tid = str(uuid.uuid4())
    other = str(uuid.uuid4())

    assert named_as_duplicate(tid, DUPLICATE.format(ids=tid))
    assert named_as_duplicate(tid, DUPLICATE.format(ids=f"{other}, {tid.upper()}"))
    assert named_as_duplicate(tid, "One or more transactions have previously been processed")
    assert not named_as_duplicate(tid, DUPLICATE.format(ids=other))
    assert not named_as_duplicate(tid, NOT_PROCESSED.format(ids=other))
    assert not named_as_duplicate(tid, "Account 400 is archived")


def test_an_expense_written_by_a_sync_never_recorded_is_imported_as_synced(codat):
    books = pushable_company()
    duplicate, unprocessed = (coded_expense(books, status=ExpenseStatus.SYNCING) for _ in "ab")
    ReceiptFactory(expense=duplicate)
    stranger = str(uuid.uuid4())  # another company's, or not an expense at all
    sync = _sync_of(books, [duplicate, unprocessed])
    lost = str(uuid.uuid4())
    codat.wrote(lost, duplicate, also=(stranger,))

    sync = sync_settle(sync=sync, results=_refused(duplicate, [unprocessed]))

    duplicate.refresh_from_db()
    assert duplicate.status == ExpenseStatus.SYNCED
    assert duplicate.failure_message == ""
    event = duplicate.events.get(to_status=ExpenseStatus.SYNCED)
    assert event.message.startswith("Found already written to the ledger")
    assert lost in event.message
    assert "which the portal had not recorded" in event.message
    imported = Sync.objects.get(codat_sync_id=lost)
    assert (imported.state, imported.status_code, imported.expenses_api) == (
        SyncState.SUCCEEDED,
        2000,
        ApiGeneration.EXPENSES,
    )
    assert imported.requested_at == WRITTEN_AT
    assert (imported.transactions_completed, imported.transactions_failed) == (2, 0)
    kept = dict(
        SyncTransaction.objects.filter(sync=imported).values_list("transaction_id", "expense")
    )
    assert kept == {duplicate.pk: duplicate.pk, uuid.UUID(stranger): None}
    # Its receipt goes to the sync that wrote it.
    assert ReceiptUpload.objects.filter(sync=imported, receipt__expense=duplicate).exists()
    # The one the duplicate protection left unprocessed was not written: it fails, to go again.
    unprocessed.refresh_from_db()
    assert unprocessed.status == ExpenseStatus.FAILED
    assert "Codat's duplicate protection stopped the whole sync" in unprocessed.failure_message
    assert (sync.state, sync.status_code) == (SyncState.FAILED, 5080)
    # Settled syncs of ours are known: only those Codat lists that are not are read.
    [search] = codat.searches
    assert search["ids"] == [str(duplicate.pk)]
    assert str(sync.codat_sync_id) in search["skip_sync_ids"]


def test_a_duplicate_no_sync_is_found_for_waits_for_support_and_is_never_retried(codat):
    books = pushable_company()
    duplicate = coded_expense(books, status=ExpenseStatus.SYNCING)
    sync = _sync_of(books, [duplicate])

    sync_settle(sync=sync, results=_refused(duplicate, []))

    duplicate.refresh_from_db()
    assert duplicate.status == ExpenseStatus.NEEDS_SUPPORT
    assert duplicate.failure_message.startswith(
        f"Codat's duplicate protection says this expense was written before (sync "
        f"{sync.codat_sync_id}), and no sync of the company that wrote it was found."
    )
    assert f"(Codat: {DUPLICATE.format(ids=duplicate.pk)})" in duplicate.failure_message
    assert duplicate.events.get(to_status=ExpenseStatus.NEEDS_SUPPORT).message
    # "Retry failed items" takes failed expenses only: this one is never sent a third time.
    assert sync_retry_failed(sync=sync) == (0, 0)
    duplicate.refresh_from_db()
    assert duplicate.status == ExpenseStatus.NEEDS_SUPPORT


def test_a_duplicate_an_earlier_sync_of_ours_completed_is_synced_without_asking_codat(codat):
    books = pushable_company()
    done = coded_expense(books, status=ExpenseStatus.SYNCED)
    earlier = _sync_of(books, [done])
    SyncTransaction.objects.create(
        sync=earlier,
        company=books.company,
        transaction_id=done.pk,
        expense=done,
        status="Completed",
    )
    Sync.objects.filter(pk=earlier.pk).update(state=SyncState.SUCCEEDED)
    Expense.objects.filter(pk=done.pk).update(status=ExpenseStatus.SYNCING)  # sent again
    again = _sync_of(books, [done])

    sync_settle(sync=again, results=_refused(done, []))

    done.refresh_from_db()
    assert done.status == ExpenseStatus.SYNCED
    assert codat.searches == []


def test_a_duplicate_written_by_a_sync_the_portal_follows_is_synced_with_it(codat):
    books = pushable_company()
    duplicate = coded_expense(books, status=ExpenseStatus.SYNCING)
    following = Sync.objects.create(
        company=books.company,
        expenses_api=ApiGeneration.EXPENSES,
        state=SyncState.IN_PROGRESS,
        codat_sync_id=uuid.uuid4(),
    )
    sync = _sync_of(books, [duplicate])
    codat.wrote(str(following.codat_sync_id), duplicate)

    sync_settle(sync=sync, results=_refused(duplicate, []))

    duplicate.refresh_from_db()
    assert duplicate.status == ExpenseStatus.SYNCED
    assert "which the portal follows" in duplicate.events.get(to_status="synced").message
    assert Sync.objects.filter(codat_sync_id=following.codat_sync_id).count() == 1
    # Still in progress: unsettled syncs of ours are read at Codat, settled ones are not.
    assert str(following.codat_sync_id) not in codat.searches[0]["skip_sync_ids"]


def test_a_failure_while_investigating_leaves_the_sync_to_be_settled_again(codat):
    books = pushable_company()
    duplicate, unprocessed = (coded_expense(books, status=ExpenseStatus.SYNCING) for _ in "ab")
    sync = _sync_of(books, [duplicate, unprocessed])
    codat.failure = CodatUnavailableError("Codat did not answer in time (ReadTimeout)")
    results = _refused(duplicate, [unprocessed])

    with pytest.raises(CodatUnavailableError):
        sync_settle(sync=sync, results=results)

    sync.refresh_from_db()
    assert sync.state == SyncState.IN_PROGRESS
    duplicate.refresh_from_db()
    assert duplicate.status == ExpenseStatus.SYNCING

    codat.failure = None
    lost = str(uuid.uuid4())
    codat.wrote(lost, duplicate)
    sync = sync_settle(sync=sync, results=results)

    duplicate.refresh_from_db()
    unprocessed.refresh_from_db()
    assert (duplicate.status, unprocessed.status) == (ExpenseStatus.SYNCED, ExpenseStatus.FAILED)
    assert sync.state == SyncState.FAILED


def test_two_syncs_refused_for_one_lost_sync_import_it_once(codat):
    books = pushable_company()
    first, second = (coded_expense(books, status=ExpenseStatus.SYNCING) for _ in "ab")
    lost = str(uuid.uuid4())
    codat.wrote(lost, first, second)
    one, other = _sync_of(books, [first]), _sync_of(books, [second])

    sync_settle(sync=one, results=_refused(first, []))
    sync_settle(sync=other, results=_refused(second, []))

    assert Sync.objects.filter(codat_sync_id=lost).count() == 1
    statuses = set(
        Expense.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
    )
    assert statuses == {ExpenseStatus.SYNCED}


def test_v1_fails_a_duplicate_no_sync_of_ours_completed_as_before(codat):
    books = pushable_company()
    duplicate = coded_expense(books, status=ExpenseStatus.SYNCING)
    sync = _sync_of(books, [duplicate], api=ApiGeneration.V1)

    sync_settle(sync=sync, results=_refused(duplicate, []))

    duplicate.refresh_from_db()
    assert duplicate.status == ExpenseStatus.FAILED
    assert duplicate.failure_message.startswith("Codat says this expense was written to the ledger")
    assert codat.searches == []


def test_codats_duplicate_sentences_in_plain_words():
    expense = ExpenseFactory.build(type="Payment")
    tid = str(uuid.uuid4())

    written = plain_words(DUPLICATE.format(ids=tid), expense)
    stopped = plain_words(NOT_PROCESSED.format(ids=tid), expense)

    assert written.startswith("Codat says this expense was written to the ledger before")
    assert stopped.startswith("It was not written: another expense of the same sync")
    assert written.endswith(f"(Codat: {DUPLICATE.format(ids=tid)})")


def test_an_expense_waiting_for_support_shows_why_with_the_failed(client, codat):
    from django.urls import reverse

    from companies.models import Role
    from tests.factories import MembershipFactory

    books = pushable_company()
    duplicate = coded_expense(books, status=ExpenseStatus.SYNCING, merchant_name="Twice Ltd")
    sync_settle(sync=_sync_of(books, [duplicate]), results=_refused(duplicate, []))
    duplicate.refresh_from_db()
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)

    page = client.get(reverse("expense-detail", args=[books.company.pk, duplicate.pk]))
    queue = client.get(reverse("expense-queue", args=[books.company.pk]), {"tab": "failed"})

    assert "Waiting for support" in page.content.decode()
    assert "no sync of the company that wrote it was found" in page.content.decode()
    assert [row.expense.pk for row in queue.context["page"].rows] == [duplicate.pk]
    assert "status-badge-needs_support" in queue.content.decode()
