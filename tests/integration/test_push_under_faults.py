"""With the sandbox failing on purpose (5xx, 429s, latency, timeouts) every expense still ends
synced or failed with a reason, and the ledger holds exactly one record per synced expense, in
either generation of Codat's expenses API (in the newer one, the faults meet the keyed writes)."""

import pytest

from companies.platforms import ApiGeneration, Platform
from expenses.models import Expense, ExpenseStatus
from gateway.models import CodatExchange
from reliability.audit import company_audit
from syncs.models import Sync, SyncState
from syncs.tasks import poll_sync, push_company
from tests.integration.sandbox_company import control, onboard
from tests.integration.test_push_newer_generation import CREATE_PATH
from tests.integration.test_push_pipeline import _approved, _ledger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(live_server, settings):
    from sandbox.models import SandboxSettings

    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    settings.CODAT_TIMEOUT_S = 1.0  # a stalled request times out quickly
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    yield
    control("DELETE", "faults")


def test_faults_never_duplicate_or_lose_an_expense(sandbox, generation):
    books = onboard(Platform.XERO)
    assert books.company.expenses_api == generation
    expenses = _approved(books, 70)
    control(
        "PUT",
        "faults",
        {
            "error_rate": 0.2,
            "error_status": 503,
            "rate_limit_every": 4,
            "retry_after_s": 1,
            "latency_ms": 20,
            "timeout_rate": 0.05,
            "timeout_stall_ms": 1500,
            "seed": 7,
        },
    )

    push_company.delay(books.company.pk)
    for _ in range(20):  # what the sweeper does for a sync whose follow-up failed
        open_syncs = Sync.objects.filter(company=books.company, state=SyncState.IN_PROGRESS)
        if not open_syncs.exists():
            break
        for sync in open_syncs:
            poll_sync.delay(sync.pk)
    control("DELETE", "faults")

    final = {e.pk: e for e in Expense.objects.filter(company=books.company)}
    assert len(final) == len(expenses)
    assert {e.status for e in final.values()} <= {ExpenseStatus.SYNCED, ExpenseStatus.FAILED}
    assert all(e.failure_message for e in final.values() if e.status == ExpenseStatus.FAILED)
    ledger_ids = [r["transactionId"] for r in _ledger(books)]
    assert len(ledger_ids) == len(set(ledger_ids))  # never twice
    synced = {str(pk) for pk, e in final.items() if e.status == ExpenseStatus.SYNCED}
    assert set(ledger_ids) == synced  # exactly the synced ones
    assert synced, "the faults must not stop everything"
    # Every sync Codat started is one the portal followed: no batch was written twice.
    assert company_audit(company=books.company).codat_syncs_unknown == 0
    statuses = set(CodatExchange.objects.values_list("status", flat=True))
    assert {429, 503} <= statuses, "the faults must really have been hit"
    if generation == ApiGeneration.EXPENSES:
        creates = CodatExchange.objects.filter(method="POST", path__endswith=CREATE_PATH)
        assert creates.exclude(status=200).exists(), "the faults must have met the writes"
