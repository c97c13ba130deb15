"""A batch whose sending writes to the ledger goes out under its `Idempotency-Key`: a resend
whose first answer may have written is never sent under a new key before the batch's sync has
been looked for. Driven through `sync_send` with a scripted generation standing in for Codat's
newer Expenses API."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest
from django.utils import timezone

from codat import (
    CodatIdempotencyConflictError,
    CodatIdempotencyInFlightError,
    CodatIdempotentServerError,
    CodatRateLimitedError,
    CodatUnavailableError,
    PlannedBatch,
    Submission,
)
from companies.models import Company
from companies.platforms import ApiGeneration
from expenses.models import ExpenseStatus
from gateway.apis import GENERATIONS
from syncs.claim import company_push_claim
from syncs.idempotency import KEY_REUSE_LIMIT
from syncs.initiate import ADOPTION_MARGIN
from syncs.models import BatchState, PushBatch, Sync, SyncState
from syncs.retries import TRANSIENT
from syncs.send import sync_send
from tests.generations import StubGeneration
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db

Answer = Submission | Exception


class ScriptedApi(StubGeneration):
    """Codat's newer generation as a script: each `send` takes the next answer (a submission, or
    an error to raise), each `find_lost_submission` answers `found`. Every call is kept, with
    the batch's key as the database held it when the call was made."""

    answers: ClassVar[list[Answer]] = []
    found: ClassVar[Submission | None] = None
    calls: ClassVar[list[tuple[str, Any]]] = []

    def send(self, company_id: str, batch: PlannedBatch) -> Submission:
        recorded = PushBatch.objects.get(idempotency_key=batch.key)
        assert recorded.key_first_sent_at is not None, "the first send is recorded before it"
        self.calls.append(("send", str(batch.key)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def find_lost_submission(
        self,
        company_id: str,
        transaction_ids: Collection[str],
        *,
        since: datetime,
        known_sync_ids: Collection[str] = (),
    ) -> Submission | None:
        self.calls.append(("find", (sorted(transaction_ids), since, sorted(known_sync_ids))))
        return self.found


@pytest.fixture
def codat(monkeypatch) -> type[ScriptedApi]:
    ScriptedApi.answers, ScriptedApi.found, ScriptedApi.calls = [], None, []
    monkeypatch.setitem(GENERATIONS, ApiGeneration.EXPENSES, ScriptedApi)
    return ScriptedApi


@pytest.fixture
def pushed() -> Sync:
    """A company on the newer generation with one claimed batch of three expenses."""
    books = pushable_company()
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.EXPENSES)
    books.company.expenses_api = ApiGeneration.EXPENSES
    for _ in range(3):
        coded_expense(books, status=ExpenseStatus.APPROVED)
    claim = company_push_claim(company=books.company)
    assert claim.sync is not None
    return claim.sync


def _batch(sync: Sync) -> PushBatch:
    return sync.batches.get()


def _ids(sync: Sync) -> list[str]:
    return sorted(str(pk) for pk in _batch(sync).items.values_list("expense_id", flat=True))


def _started(sync: Sync, codat_sync_id: str) -> None:
    sync.refresh_from_db()
    assert (sync.state, str(sync.codat_sync_id)) == (SyncState.IN_PROGRESS, codat_sync_id)
    assert _batch(sync).state == BatchState.SYNC_REQUESTED
    statuses = set(_batch(sync).expenses.values_list("status", flat=True))
    assert statuses == {ExpenseStatus.SYNCING}


def _server_error(key: object) -> CodatIdempotentServerError:
    return CodatIdempotentServerError("Codat answered 500", status=500, idempotency_key=str(key))


def test_a_batch_goes_out_under_the_key_the_claim_wrote_and_its_sync_is_recorded(codat, pushed):
    key = _batch(pushed).idempotency_key
    started = str(uuid.uuid4())
    codat.answers = [Submission(sync_id=started)]

    sync_send(sync=pushed)

    assert codat.calls == [("send", str(key))]
    _started(pushed, started)
    assert _batch(pushed).idempotency_key == key


@pytest.mark.parametrize(
    "failure",
    [
        CodatUnavailableError("Codat did not answer in time (ReadTimeout; outcome unknown)"),
        CodatRateLimitedError("Too many requests", status=429, retry_after=3),
        CodatIdempotencyInFlightError("still processing the first request", status=409),
    ],
    ids=["timeout", "429", "409-in-flight"],
)
def test_a_transient_failure_leaves_the_batch_to_be_sent_again_under_the_same_key(
    codat, pushed, failure
):
    batch = _batch(pushed)
    started = str(uuid.uuid4())
    codat.answers = [failure, Submission(sync_id=started)]

    with pytest.raises(TRANSIENT):
        sync_send(sync=pushed)

    after = _batch(pushed)
    assert (after.state, after.idempotency_key) == (BatchState.PENDING, batch.idempotency_key)
    first_sent = after.key_first_sent_at
    assert first_sent is not None

    sync_send(sync=pushed)

    assert codat.calls == [("send", str(batch.idempotency_key))] * 2
    assert _batch(pushed).key_first_sent_at == first_sent  # the window runs from the first
    _started(pushed, started)


def test_after_an_answered_5xx_the_sync_the_send_started_is_adopted_not_sent_again(codat, pushed):
    batch = _batch(pushed)
    known = Sync.objects.create(
        company=pushed.company,
        expenses_api=ApiGeneration.EXPENSES,
        state=SyncState.IN_PROGRESS,
        codat_sync_id=uuid.uuid4(),
    )
    lost = str(uuid.uuid4())
    codat.answers = [_server_error(batch.idempotency_key)]
    codat.found = Submission(sync_id=lost)

    sync_send(sync=pushed)

    first_sent = _batch(pushed).key_first_sent_at
    assert first_sent is not None
    assert codat.calls == [
        ("send", str(batch.idempotency_key)),
        ("find", (_ids(pushed), first_sent - ADOPTION_MARGIN, [str(known.codat_sync_id)])),
    ]
    _started(pushed, lost)


def test_after_an_answered_5xx_with_no_sync_found_the_key_is_replaced_and_the_batch_waits(
    codat, pushed
):
    old_key = _batch(pushed).idempotency_key
    codat.answers = [_server_error(old_key)]

    with pytest.raises(CodatIdempotentServerError) as failed:
        sync_send(sync=pushed)

    assert isinstance(failed.value, TRANSIENT)  # the next turn comes after the backoff
    batch = _batch(pushed)
    assert batch.state == BatchState.PENDING
    assert batch.idempotency_key not in (None, old_key)
    assert batch.key_first_sent_at is None
    assert [name for name, _ in codat.calls] == ["send", "find"]

    started = str(uuid.uuid4())
    codat.answers = [Submission(sync_id=started)]
    sync_send(sync=pushed)

    assert codat.calls[-1] == ("send", str(batch.idempotency_key))
    _started(pushed, started)


def test_a_key_past_its_reuse_limit_is_never_sent_again(codat, pushed):
    old_key = _batch(pushed).idempotency_key
    long_ago = timezone.now() - KEY_REUSE_LIMIT - timedelta(seconds=1)
    PushBatch.objects.filter(pk=_batch(pushed).pk).update(key_first_sent_at=long_ago)

    sync_send(sync=pushed)

    assert codat.calls == [("find", (_ids(pushed), long_ago - ADOPTION_MARGIN, []))]
    batch = _batch(pushed)
    assert (batch.state, batch.key_first_sent_at) == (BatchState.PENDING, None)
    assert batch.idempotency_key not in (None, old_key)

    started = str(uuid.uuid4())
    codat.answers = [Submission(sync_id=started)]
    sync_send(sync=pushed)

    assert codat.calls[-1] == ("send", str(batch.idempotency_key))
    _started(pushed, started)


def test_a_key_past_its_reuse_limit_whose_sync_codat_holds_is_adopted(codat, pushed):
    long_ago = timezone.now() - KEY_REUSE_LIMIT - timedelta(minutes=5)
    PushBatch.objects.filter(pk=_batch(pushed).pk).update(key_first_sent_at=long_ago)
    lost = str(uuid.uuid4())
    codat.found = Submission(sync_id=lost)

    sync_send(sync=pushed)

    assert [name for name, _ in codat.calls] == ["find"]
    _started(pushed, lost)


def test_a_key_conflict_is_logged_as_our_bug_and_the_key_replaced_after_a_look(
    codat, pushed, caplog
):
    old_key = _batch(pushed).idempotency_key
    codat.answers = [
        CodatIdempotencyConflictError("Idempotency conflict", status=422, idempotency_key="k")
    ]

    sync_send(sync=pushed)

    assert [name for name, _ in codat.calls] == ["send", "find"]
    assert _batch(pushed).idempotency_key not in (None, old_key)
    assert any(
        record.levelname == "ERROR" and "another body" in record.getMessage()
        for record in caplog.records
    )


def test_a_batch_claimed_under_v1_is_sent_through_v1_after_the_company_switched(codat, monkeypatch):
    class DatasetsOnly(StubGeneration):
        one_sync_per_batch = False
        sent: ClassVar[list[str]] = []

        def send(self, company_id: str, batch: PlannedBatch) -> Submission:
            self.sent.append(str(batch.key))
            return Submission(dataset_ids=(str(uuid.uuid4()),))

        def start(self, company_id: str, dataset_ids: Sequence[str]) -> str:
            return str(uuid.uuid4())

    monkeypatch.setitem(GENERATIONS, ApiGeneration.V1, DatasetsOnly)
    books = pushable_company()
    coded_expense(books, status=ExpenseStatus.APPROVED)
    claim = company_push_claim(company=books.company)
    assert claim.sync is not None
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.EXPENSES)

    sync = sync_send(sync=Sync.objects.select_related("company").get(pk=claim.sync.pk))

    assert sync.state == SyncState.IN_PROGRESS
    assert DatasetsOnly.sent == [str(claim.sync.batches.get().pk)]
    assert codat.calls == []
