"""Claimers side by side (PostgreSQL): threads, each on a connection of its own, claim slices of
one push at once under the company lock taken shared; a slice that may end the claim takes the
lock alone. Each expense is still claimed once, into whole batches, and a thread's failure
leaves a claim the next one continues."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import OperationalError, connection

from expenses.models import Expense, ExpenseStatus
from syncs.claim import company_push_claim
from syncs.models import PushBatch, Sync, SyncState
from tests.syncs.dashboard_data import coded_expense, pushable_company
from tests.syncs.test_claim import WorkerDied, _claimed_once

# Other threads only see what is committed: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("claimers side by side need PostgreSQL; the PostgreSQL run checks them")


def _approved(books, count):
    return [coded_expense(books, status=ExpenseStatus.APPROVED) for _ in range(count)]


def test_claimers_hold_their_slices_at_once_and_claim_each_expense_once(monkeypatch):
    from syncs import claim as push

    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 100)
    books = pushable_company()
    expenses = _approved(books, 730)
    # Every claimer waits inside its first slice's transaction for the others: if one slice
    # kept the others out (the lock alone, or a row lock waited for), the barrier breaks.
    together = threading.Barrier(3, timeout=20)
    real_reads = push.claim_reads
    inside: list[str] = []

    def reads(plan, ids):
        name = threading.current_thread().name
        if name.startswith("push-claim") and name not in inside:
            inside.append(name)
            together.wait()
        return real_reads(plan, ids)

    monkeypatch.setattr("syncs.claim.claim_reads", reads)
    delivered: list[int] = []

    claim = company_push_claim(
        company=books.company,
        on_batches=lambda batches: delivered.extend(len(b.payload) for b in batches),
        claimers=3,
    )

    assert len(inside) == 3
    assert claim.claimed == 730
    sync = Sync.objects.get()
    assert (sync.state, sync.claiming) == (SyncState.INITIATING, False)
    # Whole batches of 50 but the last, each handed on once as its slice committed.
    sizes = sorted(len(b.payload) for b in PushBatch.objects.filter(sync=sync))
    assert sizes == [30] + [50] * 14
    assert sorted(delivered) == sizes
    _claimed_once(sync, expenses)


def test_a_failed_claimer_leaves_a_claim_the_next_one_continues(monkeypatch):
    from syncs import claim as push

    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 100)
    books = pushable_company()
    expenses = _approved(books, 520)
    real_write = push.write_batches
    calls = 0
    lock = threading.Lock()

    def write(*args, **kwargs):
        nonlocal calls
        with lock:
            calls += 1
            dies = calls == 3  # a claimer's slice, after the first slice and one other
        if dies:
            raise WorkerDied
        return real_write(*args, **kwargs)

    monkeypatch.setattr("syncs.claim.write_batches", write)

    with pytest.raises(WorkerDied):
        company_push_claim(company=books.company, claimers=3)

    sync = Sync.objects.get()
    assert sync.claiming  # never ended while a claimer failed
    # The failed slice left nothing behind: what is pushing is exactly what the committed
    # batches hold, the rest is still approved.
    pushing = Expense.objects.filter(status=ExpenseStatus.PUSHING).count()
    assert pushing == sum(len(b.payload) for b in PushBatch.objects.filter(sync=sync))
    assert Expense.objects.filter(status=ExpenseStatus.APPROVED).count() == 520 - pushing > 0

    monkeypatch.setattr("syncs.claim.write_batches", real_write)
    resumed = company_push_claim(company=books.company, claimers=3)

    assert resumed.sync == sync
    assert resumed.claimed == 520 - pushing
    sync.refresh_from_db()
    assert not sync.claiming
    _claimed_once(sync, expenses)


def test_a_slice_alone_waits_for_a_slice_side_by_side(monkeypatch):
    books = pushable_company()
    _approved(books, 60)
    params = connection.get_connection_params()
    other = psycopg.connect(**params)
    try:
        # Another claimer's slice is open: it holds the company row shared.
        other.execute("SELECT 1 FROM companies_company WHERE id = %s FOR SHARE", [books.company.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        # The first slice may make the sync and end the claim: it takes the lock alone.
        with pytest.raises(OperationalError, match="lock timeout"):
            company_push_claim(company=books.company)
        assert not Sync.objects.exists()
        other.rollback()

        claim = company_push_claim(company=books.company)
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    assert claim.claimed == 60
