"""The push pipeline in Codat's newer Expenses API, end to end against the sandbox over HTTP: one
keyed call and one sync per batch, followed to the ledger; a lost answer adopted rather than
written again; an answered 5xx never turning into a second write; a v1 company beside it
pushing as v1."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

import pytest

from codat import ExpensesApiV2, PlannedBatch, Submission
from companies.platforms import ApiGeneration, Platform
from expenses.models import Expense, ExpenseStatus
from gateway.apis import GENERATIONS
from gateway.exchanges import codat_client
from gateway.models import CodatExchange
from syncs.models import BatchState, PushBatch, Sync, SyncState
from syncs.tasks import push_company
from tests.integration.sandbox_company import SandboxBooks, control, onboard
from tests.integration.test_push_pipeline import _approved, _ledger

pytestmark = pytest.mark.django_db(transaction=True)

CREATE_PATH = "/sync/expenses/expense-transactions"


class FaultOnSend(ExpensesApiV2):
    """The newer generation, with a sandbox fault on for the next sends only (one fault per
    send, in order): a fault on every call would also hit the reads that find a lost answer."""

    faults: ClassVar[list[dict[str, Any]]] = []

    def send(self, company_id: str, batch: PlannedBatch) -> Submission:
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            control("PUT", "faults", fault)
        try:
            return super().send(company_id, batch)
        finally:
            if fault is not None:
                control("DELETE", "faults")


@pytest.fixture
def faults_on_send(monkeypatch) -> type[FaultOnSend]:
    FaultOnSend.faults = []
    monkeypatch.setitem(GENERATIONS, ApiGeneration.EXPENSES, FaultOnSend)
    return FaultOnSend


def _onboard(settings, platform: str, api: str, name: str = "Harbour Coffee Ltd") -> SandboxBooks:
    """A company on `api`, in the portal and in the sandbox alike (each takes the setting)."""
    settings.CODAT_EXPENSES_API_DEFAULT = api
    books = onboard(platform, name=name)
    assert books.company.expenses_api == api
    return books


def _payments_and_refunds(books: SandboxBooks, count: int) -> list[Expense]:
    return _approved(books, count // 2) + _approved(books, count - count // 2, type="Refund")


def _creates(books: SandboxBooks) -> list[CodatExchange]:
    return list(
        CodatExchange.objects.filter(
            company=books.company, method="POST", path__endswith=CREATE_PATH
        ).order_by("pk")
    )


def _synced_once(books: SandboxBooks, expenses: list[Expense]) -> list[dict[str, Any]]:
    """Every expense synced, and in the sandbox's ledger exactly once."""
    statuses = Counter(
        Expense.objects.filter(pk__in=[e.pk for e in expenses]).values_list("status", flat=True)
    )
    assert statuses == {ExpenseStatus.SYNCED: len(expenses)}, [
        (e.type, e.failure_message)
        for e in Expense.objects.filter(pk__in=[e.pk for e in expenses]).exclude(
            status=ExpenseStatus.SYNCED
        )
    ]
    ledger = _ledger(books)
    assert sorted(r["transactionId"] for r in ledger) == sorted(str(e.pk) for e in expenses)
    return list(ledger)


@pytest.mark.parametrize("platform", [Platform.XERO, Platform.QUICKBOOKS_ONLINE])
def test_each_batch_is_one_keyed_call_and_a_sync_of_its_own_written_once(
    sandbox, settings, platform
):
    books = _onboard(settings, platform, ApiGeneration.EXPENSES)
    expenses = _payments_and_refunds(books, 120)

    push_company.delay(books.company.pk)

    ledger = _synced_once(books, expenses)
    assert {r["api"] for r in ledger} == {"expenses"}
    syncs = list(Sync.objects.filter(company=books.company))
    assert len(syncs) == 3
    assert {(s.expenses_api, s.state, s.status_code) for s in syncs} == {
        ("expenses", SyncState.SUCCEEDED, 2000)
    }
    batches = list(PushBatch.objects.filter(company=books.company))
    assert sorted(b.items.count() for b in batches) == [20, 50, 50]
    assert {(b.expenses_api, b.state) for b in batches} == {("expenses", BatchState.DONE)}
    # One call per batch, each under the batch's own key.
    creates = _creates(books)
    assert sorted(c.idempotency_key for c in creates) == sorted(
        str(b.idempotency_key) for b in batches
    )
    assert {c.status for c in creates} == {200}


def test_a_v1_company_beside_one_on_the_newer_generation_still_pushes_as_v1(sandbox, settings):
    newer = _onboard(settings, Platform.XERO, ApiGeneration.EXPENSES)
    v1 = _onboard(settings, Platform.XERO, ApiGeneration.V1, name="Quayside Bakery Ltd")
    newer_expenses, v1_expenses = _approved(newer, 60), _approved(v1, 60)

    push_company.delay(newer.company.pk)
    push_company.delay(v1.company.pk)

    assert {r["api"] for r in _synced_once(newer, newer_expenses)} == {"expenses"}
    assert {r["api"] for r in _synced_once(v1, v1_expenses)} == {"v1"}
    [v1_sync] = Sync.objects.filter(company=v1.company)
    assert v1_sync.expenses_api == ApiGeneration.V1
    assert v1_sync.batches.count() == 2
    assert not v1_sync.batches.filter(idempotency_key__isnull=False).exists()
    assert _creates(v1) == []
    assert Sync.objects.filter(company=newer.company).count() == 2


def test_a_lost_answer_is_adopted_not_written_again(sandbox, settings, faults_on_send):
    books = _onboard(settings, Platform.XERO, ApiGeneration.EXPENSES)
    expenses = _payments_and_refunds(books, 60)
    # Codat writes the first batch, then its answer is lost on the way back (a 504).
    faults_on_send.faults = [{"lost_answer_rate": 1.0, "timeout_stall_ms": 0}]

    push_company.delay(books.company.pk)

    _synced_once(books, expenses)
    first, second = _creates(books)
    assert first.status == 504
    assert second.status == 200
    # Nothing was sent again: each batch went out once, under the key the claim wrote.
    keys = {str(b.idempotency_key) for b in PushBatch.objects.filter(company=books.company)}
    assert {first.idempotency_key, second.idempotency_key} == keys
    assert len(codat_client().list_syncs(str(books.company.codat_company_id))) == 2


def test_a_lost_answer_after_a_timeout_is_replayed_under_the_same_key(
    sandbox, settings, faults_on_send
):
    books = _onboard(settings, Platform.XERO, ApiGeneration.EXPENSES)
    expenses = _approved(books, 10)
    # The answer stalls past the client's timeout; the client sends again with the same key.
    settings.CODAT_TIMEOUT_S = 1.0
    faults_on_send.faults = [{"lost_answer_rate": 1.0, "timeout_stall_ms": 2500}]

    push_company.delay(books.company.pk)

    _synced_once(books, expenses)
    [batch] = PushBatch.objects.filter(company=books.company)
    creates = _creates(books)
    assert [c.idempotency_key for c in creates] == [str(batch.idempotency_key)] * 2
    assert creates[-1].status == 200


def test_an_answered_5xx_is_sent_again_under_a_new_key_and_written_once(
    sandbox, settings, faults_on_send
):
    books = _onboard(settings, Platform.XERO, ApiGeneration.EXPENSES)
    expenses = _approved(books, 10)
    faults_on_send.faults = [{"error_rate": 1.0, "error_status": 500}]

    push_company.delay(books.company.pk)

    _synced_once(books, expenses)
    [batch] = PushBatch.objects.filter(company=books.company)
    failed, sent = _creates(books)
    assert failed.status == 500
    assert sent.status == 200
    assert failed.idempotency_key != sent.idempotency_key == str(batch.idempotency_key)
    # Before the new key, the company's syncs were read for one holding the batch: none did.
    lookups = CodatExchange.objects.filter(
        company=books.company, method="GET", path__endswith="/syncs/list/status"
    )
    assert lookups.filter(pk__gt=failed.pk, pk__lt=sent.pk).exists()
