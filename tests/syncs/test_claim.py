"""The claim plans each batch's Codat JSON from its own reads of the expenses; what it plans is
exactly what the ledger payload of each expense says, tracking and several lines included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from expenses.ledger import expense_to_transaction, ledger_lines
from expenses.models import Expense, ExpenseStatus
from expenses.validation import company_context
from syncs.claim import company_push_claim
from syncs.models import PushBatch
from tests.factories import ExpenseLineFactory, TrackingCategoryFactory
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db


def test_the_planned_items_are_the_expenses_ledger_payloads(monkeypatch):
    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 2)
    books = pushable_company()
    plain = coded_expense(books, status=ExpenseStatus.APPROVED)
    tracked = coded_expense(books, status=ExpenseStatus.APPROVED, merchant_name="Trainline")
    [line] = tracked.lines.all()
    line.tracking_categories.set(
        [
            TrackingCategoryFactory(company=books.company, name="Sales"),
            TrackingCategoryFactory(company=books.company, name="Marketing"),
        ]
    )
    split = coded_expense(books, status=ExpenseStatus.APPROVED)
    Expense.objects.filter(pk=split.pk).update(amount=Decimal("24.00"))
    ExpenseLineFactory(
        expense=split,
        account=books.meals,
        tax_rate=books.vat,
        net_amount=Decimal("10.00"),
        tax_amount=Decimal("2.00"),
        position=1,
    )

    claim = company_push_claim(company=books.company)

    assert claim.claimed == 3
    [batch] = PushBatch.objects.filter(sync=claim.sync)
    planned = {item["id"]: item for item in batch.payload}
    ctx = company_context(company=books.company)
    for expense in Expense.objects.filter(pk__in=[plain.pk, tracked.pk, split.pk]):
        expected = expense_to_transaction(
            expense=expense, lines=ledger_lines(expense=expense), ctx=ctx
        ).to_api()
        assert planned[str(expense.pk)] == expected
    assert [ref["id"] for ref in planned[str(tracked.pk)]["lines"][0]["trackingRefs"]] == [
        c.codat_id for c in sorted(line.tracking_categories.all(), key=lambda c: c.name)
    ]
    assert len(planned[str(split.pk)]["lines"]) == 2


class WorkerDied(Exception):
    """Stands for the worker dying at that line."""


def _dies_on_call(monkeypatch, name: str, call: int) -> None:
    """Make `syncs.claim.<name>` raise on its `call`-th call (inside a slice's transaction)."""
    from syncs import claim as push

    real = getattr(push, name)
    calls = 0

    def dying(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == call:
            raise WorkerDied(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(push, name, dying)


def _claimed_once(sync, expenses) -> None:
    """Every expense is in exactly one batch of the push, planned exactly once, and moved from
    approved to pushing exactly once."""
    from expenses.models import ExpenseEvent
    from syncs.models import PushBatchItem

    items = list(
        PushBatchItem.objects.filter(batch__sync=sync).values_list("expense_id", flat=True)
    )
    assert sorted(items) == sorted(e.pk for e in expenses)
    planned = [item["id"] for b in PushBatch.objects.filter(sync=sync) for item in b.payload]
    assert sorted(planned) == sorted(str(e.pk) for e in expenses)
    assert set(
        Expense.objects.filter(pk__in=[e.pk for e in expenses]).values_list("status", flat=True)
    ) == {ExpenseStatus.PUSHING}
    claimed = ExpenseEvent.objects.filter(
        expense__in=expenses, from_status=ExpenseStatus.APPROVED, to_status=ExpenseStatus.PUSHING
    )
    assert claimed.count() == len(expenses)


def test_a_claim_cut_short_between_slices_is_continued_into_the_same_push(monkeypatch):
    from syncs.models import Sync, SyncState

    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 50)
    books = pushable_company()
    expenses = [coded_expense(books, status=ExpenseStatus.APPROVED) for _ in range(120)]
    # The worker dies inside the second slice, after the first one committed its batch.
    _dies_on_call(monkeypatch, "write_batches", 2)

    with pytest.raises(WorkerDied):
        company_push_claim(company=books.company)

    sync = Sync.objects.get()
    assert (sync.state, sync.claiming) == (SyncState.INITIATING, True)
    assert sync.batches.count() == 1
    # The second slice left nothing behind: its expenses are still approved.
    assert Expense.objects.filter(status=ExpenseStatus.APPROVED).count() == 70

    monkeypatch.undo()
    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 50)
    resumed = company_push_claim(company=books.company)

    assert resumed.sync == sync
    assert resumed.claimed == 70
    sync.refresh_from_db()
    assert not sync.claiming
    assert Sync.objects.count() == 1
    assert sorted(len(b.payload) for b in PushBatch.objects.filter(sync=sync)) == [20, 50, 50]
    _claimed_once(sync, expenses)


def test_a_second_worker_claiming_between_slices_continues_the_same_push(monkeypatch):
    from syncs.models import Sync

    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 50)
    books = pushable_company()
    expenses = [coded_expense(books, status=ExpenseStatus.APPROVED) for _ in range(120)]
    second = []

    def between_slices(batches):
        # Another worker takes the company lock as soon as the first slice commits.
        if not second:
            second.append(company_push_claim(company=books.company))

    first = company_push_claim(company=books.company, on_batches=between_slices)

    assert Sync.objects.count() == 1
    assert first.sync == second[0].sync
    assert (first.claimed, second[0].claimed) == (50, 70)
    first.sync.refresh_from_db()
    assert not first.sync.claiming
    _claimed_once(first.sync, expenses)


def test_a_claim_leaves_what_does_not_fill_a_batch_approved_for_its_next_slice(monkeypatch):
    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 60)
    books = pushable_company()
    coded = [coded_expense(books, status=ExpenseStatus.APPROVED) for _ in range(130)]
    in_order = sorted(coded, key=lambda e: (e.issue_date, e.pk))
    invalid = in_order[10]
    invalid.lines.update(account=None)  # its account was removed after approval
    seen = []

    def between_slices(batches):
        seen.append(
            (
                [len(b.payload) for b in batches],
                Expense.objects.filter(status=ExpenseStatus.PUSHING).count(),
                Expense.objects.filter(status=ExpenseStatus.APPROVED).count(),
            )
        )

    claim = company_push_claim(company=books.company, on_batches=between_slices)

    # Slices of 100 (60 rounded up to whole batches). The first has 99 valid: one batch, and
    # 49 stay approved to be read again; the last slice reads those 79 and writes the rest.
    assert seen == [([50], 50, 79), ([50, 29], 129, 0)]
    assert (claim.claimed, claim.sent_back) == (129, 1)
    _claimed_once(claim.sync, [e for e in coded if e != invalid])


def test_expenses_refused_but_left_approved_are_passed_over_and_the_claim_ends(monkeypatch):
    from companies.models import LedgerAccount, SourceStatus

    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 50)
    books = pushable_company()
    LedgerAccount.objects.filter(pk=books.travel.pk).update(status=SourceStatus.ARCHIVED)
    meals = [coded_expense(books, status=ExpenseStatus.APPROVED) for _ in range(60)]
    Expense.objects.filter(pk__in=[e.pk for e in meals]).update(issue_date="2026-01-01")
    for expense in meals:
        expense.lines.update(account=books.meals)
    travel = [coded_expense(books, status=ExpenseStatus.APPROVED) for _ in range(60)]
    Expense.objects.filter(pk__in=[e.pk for e in travel]).update(issue_date="2026-02-01")

    def after_the_first_slice(batches):
        # The accountant restores the account while the claim goes on: the claim read the
        # chart as it was, the recheck of a refused expense reads it as it is now.
        LedgerAccount.objects.filter(pk=books.travel.pk).update(status=SourceStatus.ACTIVE)

    claim = company_push_claim(company=books.company, on_batches=after_the_first_slice)

    assert (claim.claimed, claim.sent_back) == (60, 0)
    _claimed_once(claim.sync, meals)
    # Still approved, as the recheck found them valid: the next push sends them.
    assert set(
        Expense.objects.filter(pk__in=[e.pk for e in travel]).values_list("status", flat=True)
    ) == {ExpenseStatus.APPROVED}


@pytest.mark.parametrize("generation", ["v1", "expenses"])
def test_a_claims_reads_do_not_grow_with_its_expenses(generation):
    """Validation and the payload read only what the claim's three reads of a slice loaded:
    a field they use outside `_CLAIM_READS` would be loaded expense by expense."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from companies.models import Company

    def claim_queries(count: int) -> int:
        books = pushable_company()
        Company.objects.filter(pk=books.company.pk).update(expenses_api=generation)
        books.company.expenses_api = generation
        for _ in range(count):
            coded_expense(books, status=ExpenseStatus.APPROVED)
        with CaptureQueriesContext(connection) as queries:
            company_push_claim(company=books.company)
        assert (
            Expense.objects.filter(company=books.company, status=ExpenseStatus.PUSHING).count()
            == count
        )
        return len(queries)

    # Twice the expenses: one more batch to write (and its sync in the newer generation).
    assert claim_queries(100) - claim_queries(50) <= 8
