"""The pipeline, unchanged, over a second generation of the expenses API: one call per batch
that answers the sync writing it (as Codat's newer Expenses API does), end to end against the
sandbox: claim → send → follow → settle, each batch followed in a sync of its own."""

from __future__ import annotations

from typing import ClassVar

import pytest

from codat import PlannedBatch, Submission
from companies.platforms import Platform
from expenses.models import Expense, ExpenseStatus
from gateway.apis import GENERATIONS
from gateway.exchanges import codat_client
from syncs.models import BatchState, PushBatch, Sync, SyncState, SyncTransaction
from syncs.selectors import push_panel
from syncs.tasks import push_company
from tests.generations import StubGeneration
from tests.integration.sandbox_company import onboard
from tests.integration.test_push_pipeline import _approved, _ledger

pytestmark = pytest.mark.django_db(transaction=True)


class OneCallPerBatch(StubGeneration):
    """Test-only generation: `send` is one call per batch that answers the sync writing it
    (made here of the sandbox's v1 calls, which the pipeline never sees)."""

    sent: ClassVar[list[tuple[str, int]]] = []

    def send(self, company_id: str, batch: PlannedBatch) -> Submission:
        dataset_id = self.client.create_expense_dataset(company_id, list(batch.items))
        sync_id = self.client.initiate_sync(company_id, [dataset_id])
        self.sent.append((str(batch.key), len(batch.items)))
        return Submission(sync_id=sync_id)


@pytest.fixture
def one_call_generation(monkeypatch):
    """The test-only generation stands in for v1, the generation the companies speak."""
    OneCallPerBatch.sent.clear()
    monkeypatch.setitem(GENERATIONS, "v1", OneCallPerBatch)


def test_each_batch_is_one_call_and_a_sync_of_its_own_followed_to_the_ledger(
    sandbox, one_call_generation
):
    books = onboard(Platform.XERO)
    expenses = _approved(books, 120)

    push_company.delay(books.company.pk)

    syncs = list(Sync.objects.filter(company=books.company).order_by("pk"))
    batches = list(PushBatch.objects.filter(company=books.company).order_by("created_at"))
    assert len(batches) == 3
    assert len(syncs) == 3
    # Each batch went out under the key the claim wrote for it.
    assert sorted(key for key, _ in OneCallPerBatch.sent) == sorted(
        str(b.idempotency_key) for b in batches
    )
    assert sorted(size for _, size in OneCallPerBatch.sent) == [20, 50, 50]
    for sync in syncs:
        assert sync.state == SyncState.SUCCEEDED
        assert sync.batches.count() == 1
        assert sync.batches.get().state == BatchState.DONE
        assert sync.transactions_completed == sync.batches.get().items.count()
    assert len({sync.codat_sync_id for sync in syncs}) == 3
    assert set(
        Expense.objects.filter(pk__in=[e.pk for e in expenses]).values_list("status", flat=True)
    ) == {ExpenseStatus.SYNCED}
    assert SyncTransaction.objects.filter(company=books.company).count() == 120
    assert len(_ledger(books)) == 120
    assert len(codat_client().list_syncs(str(books.company.codat_company_id))) == 3
    # The push panel shows the push as one, counting all three syncs.
    assert len({sync.push_id for sync in syncs}) == 1
    [shown] = push_panel(company=books.company).shown
    assert (shown.stage, shown.expenses, shown.synced, shown.syncs_total) == (
        "Finished",
        120,
        120,
        3,
    )


def test_pushing_again_sends_nothing_twice(sandbox, one_call_generation):
    books = onboard(Platform.XERO)
    _approved(books, 60)

    push_company.delay(books.company.pk)
    push_company.delay(books.company.pk)

    assert len(OneCallPerBatch.sent) == 2
    assert Sync.objects.filter(company=books.company).count() == 2
    assert len(_ledger(books)) == 60
