"""A worker killed with SIGKILL in the middle of a push, then a new worker: every expense
still ends synced or failed with a reason, and the ledger holds each synced expense once."""

import os
import signal

import pytest

from companies.platforms import ApiGeneration, Platform
from expenses.models import Expense, ExpenseStatus
from reliability.audit import company_audit, company_unsettled
from syncs.models import BatchState, PushBatch, Sync, SyncState
from syncs.tasks import push_company
from tests.integration.conftest import sweeping, wait_for
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
    sandbox_env, generation, celery_workers
):
    books = onboard(Platform.XERO)
    company = books.company
    assert company.expenses_api == generation
    _approved(books, 160)  # four batches: one sync for them all (v1), or one sync each
    control("PUT", "faults", {"latency_ms": 400})  # slow enough to be caught mid-push
    first = celery_workers()

    push_company.apply_async((company.pk,), queue=first.queue)
    wait_for(
        lambda: PushBatch.objects.filter(company=company).exclude(state=BatchState.PENDING),
        timeout=120,
        what="the first batch to be recorded sent",
        worker=first,
    )
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=30)
    # Killed mid-push: a sync is still waiting for its batches to be sent (v1: for all of
    # them to be sent and the sync started).
    assert Sync.objects.filter(company=company, state=SyncState.INITIATING).exists()

    control("DELETE", "faults")
    second = celery_workers()
    sweep = sweeping(second.queue, stale_initiating_s=1)

    def settled():
        sweep()
        return company_unsettled(company=company) == 0

    wait_for(settled, timeout=180, what="every expense to be settled", worker=second)
    audit = company_audit(company=company)
    assert audit.expenses == audit.synced == audit.ledger_records == 160
    assert audit.duplicates == audit.codat_syncs_unknown == 0
    assert audit.ok
    # Each batch was written by one sync of Codat's: no batch went out twice.
    assert audit.codat_syncs == (4 if generation == ApiGeneration.EXPENSES else 1)


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
