"""The cut-over end to end against the sandbox over HTTP: a Xero company with v1 history (synced,
failed, approved and a push in flight) is refused while anything of it is in flight, then, once
the push has settled, moved to the newer Expenses API. Nothing v1 synced is written again, its
approved expenses go out through the newer API's one call per batch, and the AdjustmentIn v1
took goes back to coding with the reason. And the rehearsal of Codat switching v1 off: with the
sandbox's v1 retired, a v1 company's push fails naming the cut-over while a moved one pushes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from companies.models import Company, ExpensesApiSwitch, SwitchChannel
from companies.platforms import ApiGeneration, Platform
from expenses.models import Expense, ExpenseEvent, ExpenseStatus
from gateway.models import CodatExchange
from syncs.claim import company_push_claim
from syncs.cutover import expenses_api_switch
from syncs.models import Sync, SyncState
from syncs.tasks import push_company, send_batches
from tests.factories import StaffFactory
from tests.integration.sandbox_company import SandboxBooks, control, onboard
from tests.integration.test_push_pipeline import _approved, _ledger

pytestmark = pytest.mark.django_db(transaction=True)

NEWER_CREATE = "/sync/expenses/expense-transactions"
V1_DATASET = "/sync/expenses/data/expense-transactions"


def _onboard_v1(settings: Any, name: str = "Harbour Coffee Ltd") -> SandboxBooks:
    settings.CODAT_EXPENSES_API_DEFAULT = ApiGeneration.V1
    books = onboard(Platform.XERO, name=name)
    assert books.company.expenses_api == ApiGeneration.V1
    return books


def _statuses(expenses: list[Expense]) -> set[str]:
    return set(
        Expense.objects.filter(pk__in=[e.pk for e in expenses]).values_list("status", flat=True)
    )


def _posts(books: SandboxBooks, path: str) -> list[CodatExchange]:
    return list(
        CodatExchange.objects.filter(
            company=books.company, method="POST", path__endswith=path
        ).order_by("pk")
    )


def _period_locked(books: SandboxBooks, until: str) -> None:
    company_id = books.company.codat_company_id
    control(
        "POST", f"companies/{company_id}/records/company/{company_id}", {"ledgerLockDate": until}
    )


def test_a_company_with_v1_history_moves_once_nothing_is_in_flight_and_writes_nothing_twice(
    sandbox, settings
):
    books = _onboard_v1(settings)
    company = books.company
    # v1 history: one expense Codat refused (a locked period), three synced.
    _period_locked(books, "2026-12-31T00:00:00")
    failed = _approved(books, 1)
    push_company.delay(company.pk)
    _period_locked(books, "2020-12-31T00:00:00")
    synced = _approved(books, 3)
    push_company.delay(company.pk)
    assert _statuses(failed) == {ExpenseStatus.FAILED}
    assert _statuses(synced) == {ExpenseStatus.SYNCED}
    # A push of two more claimed under v1, its dataset not yet sent: in flight.
    in_flight = _approved(books, 2)
    claim = company_push_claim(company=company)
    assert claim.sync is not None
    # Approved since, waiting for the next push: payments, and an AdjustmentIn v1 takes.
    waiting = _approved(books, 2)
    [adjustment] = _approved(books, 1, type="AdjustmentIn")
    support = StaffFactory(username="support-anna")

    refused = expenses_api_switch(company, "expenses", by_user=support, via=SwitchChannel.PORTAL)

    assert refused.refused
    assert "1 sync not finished; 1 batch not settled; 2 expenses on their way to Codat" in (
        refused.refusal
    )
    assert Company.objects.get(pk=company.pk).expenses_api == ApiGeneration.V1

    # The push in flight settles under v1, as it was written.
    send_batches.delay(claim.sync.pk)
    assert _statuses(in_flight) == {ExpenseStatus.SYNCED}

    report = expenses_api_switch(company, "expenses", by_user=support, via=SwitchChannel.PORTAL)

    assert not report.refused, report.refusal
    assert Company.objects.get(pk=company.pk).expenses_api == ApiGeneration.EXPENSES
    switch = ExpensesApiSwitch.objects.get(company=company)
    assert (switch.switched_by, switch.from_api, switch.to_api) == (support, "v1", "expenses")
    # The AdjustmentIn v1 took goes back to coding, the reason on its trail.
    adjustment.refresh_from_db()
    assert adjustment.status == ExpenseStatus.UNCATEGORIZED
    event = ExpenseEvent.objects.filter(expense=adjustment, to_status="uncategorized").get()
    assert "Xero does not accept Adjustment in transactions from Codat's Expenses API" in (
        event.message
    )
    assert _statuses(failed) == {ExpenseStatus.FAILED}  # valid in the newer API: it stays

    push_company.delay(company.pk)

    # The approved payments went out through the newer API: one keyed call, one sync.
    assert _statuses(waiting) == {ExpenseStatus.SYNCED}
    [create] = _posts(books, NEWER_CREATE)
    assert create.status == 200
    assert create.idempotency_key
    newer_syncs = Sync.objects.filter(company=company, expenses_api=ApiGeneration.EXPENSES)
    assert [(s.state, s.status_code) for s in newer_syncs] == [(SyncState.SUCCEEDED, 2000)]
    # Every v1 sync keeps its stamp, and nothing synced under v1 is in the ledger twice.
    v1_syncs = Sync.objects.filter(company=company, expenses_api=ApiGeneration.V1)
    assert v1_syncs.count() == 3
    ledger = _ledger(books)
    written = Counter(r["transactionId"] for r in ledger)
    assert set(written.values()) == {1}
    by_api = {r["transactionId"]: r["api"] for r in ledger}
    assert {by_api[str(e.pk)] for e in synced + in_flight} == {"v1"}
    assert {by_api[str(e.pk)] for e in waiting} == {"expenses"}
    assert str(adjustment.pk) not in written
    assert str(failed[0].pk) not in written


@pytest.fixture
def v1_retired() -> Iterator[None]:
    control("PUT", "settings", {"v1_enabled": False})
    yield
    control("PUT", "settings", {"v1_enabled": True})


def test_rehearsal_with_v1_retired_a_v1_push_fails_naming_the_cut_over_a_moved_one_pushes(
    sandbox, settings, v1_retired
):
    still = _onboard_v1(settings, name="Quayside Bakery Ltd")
    moved = _onboard_v1(settings)
    assert not expenses_api_switch(moved.company, "expenses", by_user=None).refused
    still_expenses, moved_expenses = _approved(still, 3), _approved(moved, 3)

    push_company.delay(still.company.pk)
    push_company.delay(moved.company.pk)

    # The v1 company: Codat answered its dataset as a retired API; nothing was written, its
    # expenses wait approved, and the push says what to do.
    # (Tried by the claim's sending lane, then by the sending turn, which ends the push.)
    assert {d.status for d in _posts(still, V1_DATASET)} == {410}
    [failed_sync] = Sync.objects.filter(company=still.company)
    assert failed_sync.state == SyncState.FAILED
    assert failed_sync.error_message.startswith("Codat switched Sync for Expenses v1 off")
    assert (
        "move Quayside Bakery Ltd to the newer Expenses API (Companies → Quayside Bakery Ltd → "
        f"Settings → “Move to the newer Expenses API”, or manage.py expenses_api --company "
        f"{still.company.pk} --to expenses)" in failed_sync.error_message
    )
    assert _statuses(still_expenses) == {ExpenseStatus.APPROVED}
    assert _ledger(still) == []
    # The moved company pushes as if nothing had happened.
    assert _statuses(moved_expenses) == {ExpenseStatus.SYNCED}
    assert {r["api"] for r in _ledger(moved)} == {"expenses"}
    assert _posts(moved, V1_DATASET) == []
