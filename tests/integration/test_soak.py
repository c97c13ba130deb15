"""The soak, scaled down for CI (the full run is `make soak`, docs/reliability.md): a push
through sandbox faults (503s, 429s, latency, timeouts) whose worker is SIGKILLed mid-push
while the broker restarts, a new worker and the sweeper finishing the work. Every expense
ends synced or failed with a reason; the ledger holds each synced expense exactly once."""

from __future__ import annotations

import os
import shutil
import signal
import socket
from collections.abc import Iterator

import pytest

from companies.platforms import ApiGeneration, Platform
from expenses.models import Expense, ExpenseStatus
from gateway.models import CodatExchange
from reliability.audit import company_audit, company_unsettled
from reliability.seed import expenses_bulk
from reliability.stack import PrivateRedis
from syncs.models import BatchState, PushBatch
from syncs.tasks import push_company
from tests.conftest import require_resource
from tests.integration.conftest import sweeping, wait_for
from tests.integration.sandbox_company import control, onboard

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

EXPENSES = 200  # four batches: one sync for them all (v1), or one sync each
LOCKED_EVERY = 25  # dated in the ledger's locked period: the platform refuses these
FAULTS = {
    "error_rate": 0.2,
    "error_status": 503,
    "rate_limit_every": 10,
    "retry_after_s": 1,
    "latency_ms": 20,
    "timeout_rate": 0.03,
    "timeout_stall_ms": 1500,
    "seed": 11,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _use_broker(url: str) -> None:
    """Send this process's tasks to `url` from now on (Celery caches its connections)."""
    from sfe_portal.celery import app

    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def private_redis(settings, monkeypatch, tmp_path) -> Iterator[PrivateRedis | None]:
    """A redis-server of this test alone when Redis is the broker, so that restarting it
    disturbs nobody; None on the filesystem broker, which has no server to restart."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        yield None
        return
    require_resource(shutil.which("redis-server") is not None, "redis-server is not installed")
    redis = PrivateRedis(_free_port(), tmp_path)
    redis.start()
    url = f"redis://127.0.0.1:{redis.port}/0"
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    _use_broker(url)
    yield redis
    _use_broker(settings.CELERY_BROKER_URL)
    redis.stop()


@pytest.fixture
def sandbox(live_server, settings, monkeypatch) -> Iterator[None]:
    from sandbox.models import SandboxSettings

    url = live_server.url + "/codat-sandbox"
    settings.CODAT_BASE_URL = url
    monkeypatch.setenv("CODAT_BASE_URL", url)
    monkeypatch.setenv("CODAT_TIMEOUT_S", "1")  # a stalled call times out in the worker
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    yield
    control("DELETE", "faults")


def test_soak_faults_a_killed_worker_and_a_broker_restart_lose_and_duplicate_nothing(
    private_redis, sandbox, generation, celery_workers
):
    books = onboard(Platform.XERO, name="Soak Ltd")
    company = books.company
    assert company.expenses_api == generation
    expenses_bulk(company=company, count=EXPENSES, locked_every=LOCKED_EVERY, prefix="soak")
    control("PUT", "faults", FAULTS)
    first = celery_workers()

    push_company.apply_async((company.pk,), queue=first.queue)
    wait_for(
        lambda: PushBatch.objects.filter(company=company).exclude(state=BatchState.PENDING),
        timeout=60,
        what="a first batch sent",
        worker=first,
    )
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=30)
    second = celery_workers()
    if private_redis is not None:
        # Under the new worker's feet; every queued message is lost with it.
        private_redis.restart(down_s=0.5)

    sweep = sweeping(second.queue)

    def settled() -> bool:
        sweep()
        return company_unsettled(company=company) == 0

    wait_for(settled, timeout=120, what="every expense synced or failed", worker=second)
    control("DELETE", "faults")

    audit = company_audit(company=company)
    assert audit.expenses == EXPENSES
    assert audit.unsettled == 0
    assert audit.failed_without_reason == 0
    assert audit.duplicates == 0
    assert audit.synced_missing_from_ledger == 0
    assert audit.in_ledger_not_synced == 0
    assert audit.codat_syncs_unknown == 0
    assert audit.ok
    # Each batch was written by one sync of Codat's (v1: one sync for the push).
    batches = PushBatch.objects.filter(company=company).count()
    assert audit.codat_syncs == (batches if generation == ApiGeneration.EXPENSES else 1)
    # Exactly the expenses in the locked period failed, with the platform's reason.
    locked = Expense.objects.filter(company=company, issue_date__year=2020)
    assert audit.failed == locked.count() == EXPENSES // LOCKED_EVERY
    assert all("locked" in m for m in locked.values_list("failure_message", flat=True))
    assert audit.synced == EXPENSES - audit.failed == audit.ledger_records
    assert not Expense.objects.filter(company=company, status=ExpenseStatus.SYNCING).exists()
    statuses = set(CodatExchange.objects.filter(company=company).values_list("status", flat=True))
    # Which faults a short run draws depends on its timing, so it asks only that it met one.
    assert statuses & {429, 503, None}, "the faults must really have been hit"
