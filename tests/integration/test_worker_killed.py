"""A worker killed with SIGKILL in the middle of a push, then a new worker: every expense
still ends synced or failed with a reason, and the ledger holds each synced expense once."""

import os
import signal

import pytest

from companies.platforms import Platform
from expenses.models import Expense, ExpenseStatus
from syncs.models import BatchState, PushBatch, Sync, SyncState
from syncs.tasks import push_company, sweep
from tests.integration.conftest import wait_for
from tests.integration.sandbox_company import control, onboard
from tests.integration.test_push_pipeline import _approved, _ledger

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox_env(live_server, settings, monkeypatch):
    """The sandbox of this test's live server, for this process and the workers it starts."""
    from sandbox.models import SandboxSettings

    url = live_server.url + "/codat-sandbox"
    settings.CODAT_BASE_URL = url
    monkeypatch.setenv("CODAT_BASE_URL", url)
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    yield url
    control("DELETE", "faults")


def test_sigkill_mid_push_then_a_new_worker_finishes_without_duplicates(
    sandbox_env, celery_workers
):
    books = onboard(Platform.XERO)
    expenses = _approved(books, 160)  # four datasets
    control("PUT", "faults", {"latency_ms": 400})  # slow enough to be caught mid-push
    first = celery_workers()

    push_company.apply_async((books.company.pk,), queue=first.queue)
    wait_for(
        lambda: PushBatch.objects.filter(company=books.company, state=BatchState.POSTED).exists(),
        timeout=120,
        what="the first dataset to be recorded",
        worker=first,
    )
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=30)
    assert Sync.objects.get(company=books.company).state == SyncState.INITIATING

    control("DELETE", "faults")
    second = celery_workers()
    sweep.apply_async(kwargs={"stale_poll_s": 0, "stale_initiating_s": 0}, queue=second.queue)

    def settled():
        statuses = set(
            Expense.objects.filter(company=books.company).values_list("status", flat=True)
        )
        return statuses <= {ExpenseStatus.SYNCED, ExpenseStatus.FAILED}

    wait_for(settled, timeout=180, what="every expense to be settled", worker=second)
    final = list(Expense.objects.filter(company=books.company))
    assert len(final) == len(expenses)
    assert all(e.failure_message for e in final if e.status == ExpenseStatus.FAILED)
    ledger_ids = [r["transactionId"] for r in _ledger(books)]
    assert len(ledger_ids) == len(set(ledger_ids))
    assert set(ledger_ids) == {str(e.pk) for e in final if e.status == ExpenseStatus.SYNCED}
    assert len(ledger_ids) == 160


def test_companies_pushing_at_once_take_turns_on_one_worker(
    sandbox_env, celery_workers, monkeypatch
):
    monkeypatch.setenv("PUSH_BATCHES_PER_TURN", "1")
    first = onboard(Platform.XERO, name="First Ltd")
    second = onboard(Platform.QUICKBOOKS_ONLINE, name="Second Ltd")
    _approved(first, 150)  # three datasets each
    _approved(second, 150)
    worker = celery_workers()

    push_company.apply_async((first.company.pk,), queue=worker.queue)
    push_company.apply_async((second.company.pk,), queue=worker.queue)

    def settled():
        return (
            not Expense.objects.exclude(status=ExpenseStatus.SYNCED)
            .filter(company__in=[first.company, second.company])
            .exists()
        )

    wait_for(settled, timeout=180, what="both pushes to finish", worker=worker)
    first_posts = sorted(
        PushBatch.objects.filter(company=first.company).values_list("posted_at", flat=True)
    )
    second_posts = sorted(
        PushBatch.objects.filter(company=second.company).values_list("posted_at", flat=True)
    )
    # The second company's first dataset went out before the first company's last one.
    assert second_posts[0] < first_posts[-1]
    assert len(_ledger(first)) == len(_ledger(second)) == 150
