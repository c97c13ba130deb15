"""A transfer of a company on Codat's newer Expenses API goes out alone, as a PUT by its
transaction id: a batch and a sync of its own. Codat keeps no answer under a key for a PUT, and
Xero only creates transfers, so a PUT whose answer was lost is looked for by its transaction id
before it is ever sent again: found, it is adopted; not found, it is sent again only once the
first PUT can no longer be in flight. Driven through `sync_send` with a scripted generation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from codat import (
    CodatRateLimitedError,
    CodatUnavailableError,
    CodatValidationError,
    PlannedBatch,
    Submission,
)
from companies.models import Company
from companies.platforms import ApiGeneration
from expenses.models import Expense, ExpenseStatus
from gateway.apis import GENERATIONS
from syncs.claim import company_push_claim
from syncs.idempotency import PUT_IN_FLIGHT, SendInFlight
from syncs.initiate import ADOPTION_MARGIN
from syncs.models import BatchState, PushBatch, Sync, SyncState
from syncs.retries import TRANSIENT
from syncs.send import sync_send
from tests.factories import LedgerAccountFactory
from tests.syncs.dashboard_data import coded_transfer, pushable_company
from tests.syncs.test_idempotency import ScriptedApi

pytestmark = pytest.mark.django_db


class ScriptedTransfers(ScriptedApi):
    """The scripted generation, keeping the endpoint and items of each batch sent."""

    sent: list[PlannedBatch] = []

    def send(self, company_id: str, batch: PlannedBatch) -> Submission:
        self.sent.append(batch)
        return super().send(company_id, batch)


@pytest.fixture
def codat(monkeypatch) -> type[ScriptedTransfers]:
    ScriptedTransfers.answers, ScriptedTransfers.found, ScriptedTransfers.calls = [], None, []
    ScriptedTransfers.sent = []
    monkeypatch.setitem(GENERATIONS, ApiGeneration.EXPENSES, ScriptedTransfers)
    return ScriptedTransfers


@pytest.fixture
def transfer() -> Sync:
    """A company on the newer generation with one claimed transfer."""
    books = pushable_company()
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.EXPENSES)
    books.company.expenses_api = ApiGeneration.EXPENSES
    savings = LedgerAccountFactory(
        company=books.company,
        account_type="Asset",
        is_bank_account=True,
        valid_transaction_types=[],
        valid_for=["transfer-transactions"],
    )
    coded_transfer(books, savings)
    claim = company_push_claim(company=books.company)
    assert claim.sync is not None
    return claim.sync


def _batch(sync: Sync) -> PushBatch:
    return sync.batches.get()


def _expense(sync: Sync) -> Expense:
    return _batch(sync).expenses.get()


def _started(sync: Sync, codat_sync_id: str) -> None:
    sync.refresh_from_db()
    assert (sync.state, str(sync.codat_sync_id)) == (SyncState.IN_PROGRESS, codat_sync_id)
    assert _batch(sync).state == BatchState.SYNC_REQUESTED
    assert _expense(sync).status == ExpenseStatus.SYNCING


def _timeout() -> CodatUnavailableError:
    return CodatUnavailableError("Codat did not answer in time (ReadTimeout; outcome unknown)")


def _sends(codat: type[ScriptedTransfers]) -> int:
    return sum(1 for name, _ in codat.calls if name == "send")


def test_a_transfer_is_sent_alone_to_the_transfer_endpoint_and_its_sync_recorded(codat, transfer):
    started = str(uuid.uuid4())
    codat.answers = [Submission(sync_id=started)]

    sync_send(sync=transfer)

    [sent] = codat.sent
    assert sent.endpoint == "transfer-transactions"
    [item] = sent.items
    assert item == _batch(transfer).payload[0]
    assert item["id"] == str(_expense(transfer).pk)
    _started(transfer, started)


def test_a_put_whose_answer_is_lost_is_adopted_when_codat_lists_its_sync(codat, transfer):
    lost = str(uuid.uuid4())
    codat.answers = [_timeout()]
    codat.found = Submission(sync_id=lost)

    sync_send(sync=transfer)

    first_sent = _batch(transfer).key_first_sent_at
    assert first_sent is not None
    assert codat.calls == [
        ("send", str(_batch(transfer).idempotency_key)),
        ("find", ([str(_expense(transfer).pk)], first_sent - ADOPTION_MARGIN, [])),
    ]
    _started(transfer, lost)


def test_a_lost_put_is_never_sent_again_while_it_may_be_in_flight(codat, transfer):
    codat.answers = [_timeout()]

    with pytest.raises(CodatUnavailableError):
        sync_send(sync=transfer)
    with pytest.raises(SendInFlight) as waiting:
        sync_send(sync=transfer)

    assert isinstance(waiting.value, TRANSIENT)  # the task tries again after a wait
    assert [name for name, _ in codat.calls] == ["send", "find", "find"]
    batch = _batch(transfer)
    assert (batch.state, batch.key_first_sent_at is not None) == (BatchState.PENDING, True)


def test_a_lost_put_codat_holds_no_sync_of_is_sent_again_once_out_of_flight(codat, transfer):
    old_key = _batch(transfer).idempotency_key
    codat.answers = [_timeout()]
    with pytest.raises(CodatUnavailableError):
        sync_send(sync=transfer)
    long_ago = timezone.now() - PUT_IN_FLIGHT - timedelta(seconds=1)
    PushBatch.objects.filter(pk=_batch(transfer).pk).update(key_first_sent_at=long_ago)
    started = str(uuid.uuid4())
    codat.answers = [Submission(sync_id=started)]

    sync_send(sync=transfer)

    # Looked for before the resend, and the resend is an attempt of its own.
    assert [name for name, _ in codat.calls] == ["send", "find", "find", "send"]
    new_key = _batch(transfer).idempotency_key
    assert new_key not in (None, old_key)
    assert codat.calls[-1] == ("send", str(new_key))
    _started(transfer, started)


def test_a_worker_that_died_after_the_put_leaves_it_to_be_looked_for_first(codat, transfer):
    # The PUT was sent (its moment is committed first), then the worker died with the answer.
    PushBatch.objects.filter(pk=_batch(transfer).pk).update(key_first_sent_at=timezone.now())
    lost = str(uuid.uuid4())
    codat.found = Submission(sync_id=lost)

    sync_send(sync=transfer)

    assert [name for name, _ in codat.calls] == ["find"]
    _started(transfer, lost)


@pytest.mark.parametrize("status", [429, 503])
def test_a_put_codat_turned_away_is_sent_again_without_looking(codat, transfer, status):
    turned_away = (
        CodatRateLimitedError("Too many requests", status=429, retry_after=3)
        if status == 429
        else CodatUnavailableError("Service unavailable", status=503)
    )
    started = str(uuid.uuid4())
    codat.answers = [turned_away, Submission(sync_id=started)]

    with pytest.raises(TRANSIENT):
        sync_send(sync=transfer)
    assert _batch(transfer).key_first_sent_at is None
    sync_send(sync=transfer)

    assert [name for name, _ in codat.calls] == ["send", "send"]
    _started(transfer, started)


def test_a_refused_transfer_fails_with_codats_words(codat, transfer):
    codat.answers = [
        CodatValidationError("Create transfer transaction is not supported for Xero.", status=400)
    ]

    sync_send(sync=transfer)

    expense = _expense(transfer)
    assert expense.status == ExpenseStatus.FAILED
    assert "not supported for Xero" in expense.failure_message
    assert _batch(transfer).state == BatchState.ABANDONED
