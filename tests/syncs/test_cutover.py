"""The cut-over moves a company to the other generation of Codat's expenses API only when nothing
of it is in flight, under the lock a claim takes; it sends back to coding, with the reason, what
the new generation refuses, never touches what is synced, and records who switched and when. A
dry run changes nothing. Moving back to v1 ends on the day Codat switches v1 off, and from that
day a company still on v1 cannot push."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from companies.models import Company, ExpensesApiSwitch, SwitchChannel
from companies.platforms import ApiGeneration
from expenses.models import EventKind, Expense, ExpenseEvent, ExpenseStatus
from syncs import v1_shutdown
from syncs.claim import PushRefused, company_push_claim, push_blockers
from syncs.cutover import company_in_flight, expenses_api_switch
from syncs.models import BatchState, PushBatch, ReceiptUpload, Sync, SyncState, UploadState
from syncs.push_requests import company_push_request
from tests.factories import (
    ReceiptFactory,
    StaffFactory,
)
from tests.fake_clock import FakeClock
from tests.syncs.cutover_data import coded_as, other_side, speaks, status_of
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db

BEFORE_SHUTDOWN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
AFTER_SHUTDOWN = datetime(2027, 5, 1, 0, 30, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(BEFORE_SHUTDOWN)
    monkeypatch.setattr(v1_shutdown, "clock", fake)
    return fake


@pytest.fixture
def books(clock: FakeClock) -> Any:
    return pushable_company(name="Harbour Coffee Ltd")


# --- Refused while anything is in flight --------------------------------------------------------


def _push_requested(books: Any) -> None:
    Company.objects.filter(pk=books.company.pk).update(push_requested_at=timezone.now())


def _claim_under_way(books: Any) -> None:
    Sync.objects.create(company=books.company, claiming=True)


def _sync_running(books: Any) -> None:
    Sync.objects.create(
        company=books.company, state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4()
    )


def _batch_pending(books: Any) -> None:
    PushBatch.objects.create(
        company=books.company, state=BatchState.POSTED, dataset_id=uuid.uuid4()
    )


def _receipt_waiting(books: Any) -> None:
    expense = coded_expense(books, status=ExpenseStatus.SYNCED)
    sync = Sync.objects.create(
        company=books.company,
        state=SyncState.SUCCEEDED,
        codat_sync_id=uuid.uuid4(),
        completed_at=timezone.now(),
    )
    ReceiptUpload.objects.create(
        receipt=ReceiptFactory(expense=expense), sync=sync, state=UploadState.FAILED
    )


def _expense_on_its_way(books: Any) -> None:
    coded_expense(books, status=ExpenseStatus.SYNCING)


@pytest.mark.parametrize(
    ("in_flight", "words"),
    [
        (_push_requested, "a push was asked for and no worker has taken it up yet"),
        (_claim_under_way, "1 push still being claimed; 1 sync not finished"),
        (_sync_running, "1 sync not finished"),
        (_batch_pending, "1 batch not settled"),
        (_receipt_waiting, "1 receipt upload not done"),
        (_expense_on_its_way, "1 expense on its way to Codat"),
    ],
    ids=["push requested", "claim", "sync", "batch", "receipt upload", "expense"],
)
def test_a_company_with_anything_in_flight_is_refused_naming_it_and_the_fix(
    books, in_flight, words
):
    adjustment = coded_as(
        books, status=ExpenseStatus.APPROVED, type="AdjustmentIn", account=other_side(books)
    )
    in_flight(books)

    report = expenses_api_switch(books.company, "expenses", by_user=StaffFactory())

    assert report.refused
    assert f"Harbour Coffee Ltd still has work in flight with Codat: {words}." in report.refusal
    assert f"manage.py sync_now --company {books.company.pk} --wait" in report.refusal
    assert report.lines()[0] == f"Not moved: {report.refusal}"
    assert speaks(books.company) == ApiGeneration.V1
    assert ExpensesApiSwitch.objects.count() == 0
    assert status_of(adjustment) == ExpenseStatus.APPROVED
    assert not ExpenseEvent.objects.filter(expense=adjustment).exists()


def test_nothing_in_flight_reads_as_nothing(books):
    coded_expense(books, status=ExpenseStatus.SYNCED)
    coded_expense(books, status=ExpenseStatus.FAILED)
    Sync.objects.create(
        company=books.company,
        state=SyncState.SUCCEEDED,
        codat_sync_id=uuid.uuid4(),
        completed_at=timezone.now(),
    )
    PushBatch.objects.create(company=books.company, state=BatchState.ABANDONED)

    assert not company_in_flight(company=books.company)


# --- The switch -----------------------------------------------------------------------------


@pytest.fixture
def history(books: Any) -> dict[str, Any]:
    """A Xero company with v1 history: synced, failed and approved expenses, all valid in v1.
    The newer generation takes the transfer through its transfer endpoint, not the
    adjustment."""
    other = other_side(books)
    savings = other_side(books, name="Savings")
    synced_sync = Sync.objects.create(
        company=books.company,
        state=SyncState.SUCCEEDED,
        codat_sync_id=uuid.uuid4(),
        completed_at=timezone.now(),
    )
    return {
        "payment": coded_expense(books, status=ExpenseStatus.APPROVED),
        "adjustment": coded_as(
            books, status=ExpenseStatus.APPROVED, type="AdjustmentIn", account=other
        ),
        "failed_payment": coded_expense(books, status=ExpenseStatus.FAILED),
        "failed_transfer": coded_as(
            books, status=ExpenseStatus.FAILED, type="TransferIn", account=savings
        ),
        "synced_adjustment": coded_as(
            books, status=ExpenseStatus.SYNCED, type="AdjustmentOut", account=other
        ),
        "v1_sync": synced_sync,
    }


def test_a_dry_run_reports_what_would_go_back_to_coding_and_changes_nothing(books, history):
    events = ExpenseEvent.objects.count()

    report = expenses_api_switch(books.company, "expenses", by_user=None, dry_run=True)

    assert not report.refused
    assert {r.expense_id for r in report.sent_back} == {history["adjustment"].pk}
    text = "\n".join(report.lines())
    assert "Harbour Coffee Ltd can move from Sync for Expenses v1 to the newer Expenses API" in (
        text
    )
    assert "1 expense would go back to coding" in text
    assert "Xero does not accept Adjustment in transactions from Codat's Expenses API" in text
    assert "Dry run: nothing was changed." in text
    assert speaks(books.company) == ApiGeneration.V1
    assert [status_of(history[k]) for k in ("adjustment", "failed_transfer")] == [
        ExpenseStatus.APPROVED,
        ExpenseStatus.FAILED,
    ]
    assert ExpenseEvent.objects.count() == events
    assert ExpensesApiSwitch.objects.count() == 0


def test_a_dry_run_says_what_is_in_flight_too(books, history):
    _sync_running(books)

    report = expenses_api_switch(books.company, "expenses", by_user=None, dry_run=True)

    assert report.lines()[0].startswith("Would not move: Harbour Coffee Ltd still has work in")
    assert len(report.sent_back) == 1
    assert speaks(books.company) == ApiGeneration.V1


def test_the_switch_sends_what_the_newer_generation_refuses_back_to_coding_with_the_reason(
    books, history, django_capture_on_commit_callbacks
):
    support = StaffFactory(username="support-anna")

    with django_capture_on_commit_callbacks() as callbacks:
        report = expenses_api_switch(
            books.company, "expenses", by_user=support, via=SwitchChannel.PORTAL
        )

    assert not report.refused
    assert speaks(books.company) == ApiGeneration.EXPENSES
    assert books.company.expenses_api == ApiGeneration.EXPENSES
    adjustment = Expense.objects.get(pk=history["adjustment"].pk)
    assert adjustment.status == ExpenseStatus.UNCATEGORIZED
    assert adjustment.approved_at is None
    assert "Xero does not accept Adjustment in transactions" in adjustment.needs_recoding_reason
    event = ExpenseEvent.objects.filter(expense=adjustment, kind=EventKind.STATUS).get()
    assert (event.from_status, event.to_status) == ("approved", "uncategorized")
    assert event.message.startswith(
        "Back to coding: Harbour Coffee Ltd moved to the newer Expenses API, which does not take "
        "it as it is: Xero does not accept Adjustment in transactions from Codat's Expenses API."
    )
    assert event.actor == support
    assert event.as_staff
    assert event.data == {"expenses_api": "expenses"}
    # What the newer generation takes stays where it was (the transfer through the transfer
    # endpoint): it goes out on the next push.
    assert status_of(history["failed_transfer"]) == ExpenseStatus.FAILED
    assert status_of(history["payment"]) == ExpenseStatus.APPROVED
    assert status_of(history["failed_payment"]) == ExpenseStatus.FAILED
    # Nothing synced is touched, and the v1 sync keeps its stamp.
    assert status_of(history["synced_adjustment"]) == ExpenseStatus.SYNCED
    assert not ExpenseEvent.objects.filter(expense=history["synced_adjustment"]).exists()
    assert Sync.objects.get(pk=history["v1_sync"].pk).expenses_api == ApiGeneration.V1
    # The mapping options are read again once the switch is committed.
    assert len(callbacks) == 1
    text = "\n".join(report.lines())
    assert "Harbour Coffee Ltd moved from Sync for Expenses v1 to the newer Expenses API." in text
    assert "1 expense went back to coding" in text
    assert "The mapping options and master data are being read again" in text


def test_who_switched_when_and_from_where_is_recorded(books, history, clock):
    support = StaffFactory(username="support-anna")
    clock.advance(hours=3)

    report = expenses_api_switch(
        books.company, "expenses", by_user=support, via=SwitchChannel.ADMIN
    )

    switch = ExpensesApiSwitch.objects.get()
    assert report.switch == switch
    assert (switch.company, switch.from_api, switch.to_api) == (
        books.company,
        ApiGeneration.V1,
        ApiGeneration.EXPENSES,
    )
    assert (switch.switched_by, switch.via, switch.switched_at) == (
        support,
        SwitchChannel.ADMIN,
        datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    )
    assert switch.sent_back_to_coding == 1
    assert switch.summary == "\n".join(report.lines())
    assert switch.by_label == "support-anna"


def test_a_company_already_on_the_generation_is_left_as_it_is(books):
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.EXPENSES)

    report = expenses_api_switch(books.company, "expenses", by_user=None)

    assert report.already
    assert not report.refused
    assert report.lines() == [
        "Harbour Coffee Ltd already speaks the newer Expenses API: nothing to do."
    ]
    assert ExpensesApiSwitch.objects.count() == 0


def test_an_unknown_generation_is_refused_naming_the_known_ones(books):
    with pytest.raises(ValueError, match="No expenses API generation is called 'v2': use one of"):
        expenses_api_switch(books.company, "v2", by_user=None)


# --- v1's shutdown ------------------------------------------------------------------------------


def test_moving_back_to_v1_is_allowed_before_the_shutdown_and_refused_from_it(books, clock):
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.EXPENSES)
    clock.now = AFTER_SHUTDOWN

    refused = expenses_api_switch(books.company, "v1", by_user=None)

    assert refused.refusal == (
        "Codat switched Sync for Expenses v1 off on 1 May 2027: Harbour Coffee Ltd cannot be "
        "moved back to it."
    )
    assert speaks(books.company) == ApiGeneration.EXPENSES

    moved = expenses_api_switch(books.company, "v1", by_user=None, clock=lambda: BEFORE_SHUTDOWN)

    assert not moved.refused
    assert speaks(books.company) == ApiGeneration.V1


def test_the_shutdown_day_follows_the_setting(books, clock, settings):
    settings.CODAT_V1_SHUTDOWN_DATE = datetime(2026, 12, 1).date()
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.EXPENSES)

    assert expenses_api_switch(books.company, "v1", by_user=None).refused


def test_from_the_shutdown_a_v1_company_s_push_is_refused_naming_the_cut_over(books, clock):
    coded_expense(books, status=ExpenseStatus.APPROVED)
    assert push_blockers(company=books.company) == []
    clock.now = AFTER_SHUTDOWN
    fix = (
        "Codat switched Sync for Expenses v1 off on 1 May 2027: move Harbour Coffee Ltd to the "
        "newer Expenses API (Companies → Harbour Coffee Ltd → Settings → “Move to the newer "
        f"Expenses API”, or manage.py expenses_api --company {books.company.pk} --to expenses)."
    )

    assert push_blockers(company=books.company) == [fix]
    # At the push button ...
    with pytest.raises(PushRefused, match="Codat switched Sync for Expenses v1 off"):
        company_push_request(company=books.company)
    # ... and at the claim, in the worker and in sync_now: the request ends, nothing is claimed.
    _push_requested(books)
    books.company.refresh_from_db()
    with pytest.raises(PushRefused) as refused:
        company_push_claim(company=books.company)
    assert str(refused.value) == fix
    assert Company.objects.get(pk=books.company.pk).push_requested_at is None
    assert not Sync.objects.exists()


def test_a_company_on_the_newer_generation_pushes_after_the_shutdown(books, clock):
    coded_expense(books, status=ExpenseStatus.APPROVED)
    expenses_api_switch(books.company, "expenses", by_user=None)
    clock.now = AFTER_SHUTDOWN

    assert push_blockers(company=books.company) == []
    assert company_push_claim(company=books.company).claimed == 1


# --- The lock -----------------------------------------------------------------------------------


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return bool(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_a_switch_asked_while_a_claim_slice_holds_the_lock_checks_after_it(monkeypatch):
    """A switch asked while a claim slice holds the company lock waits for the slice to commit
    before it checks what is in flight: it then finds the slice's push and is refused. (A switch
    that checked first and only waited to write would find nothing and switch mid-push.)"""
    if connection.vendor != "postgresql":
        pytest.skip("needs a second connection waiting on a row lock: the PostgreSQL run")
    from syncs import claim as push

    books = pushable_company(name="Harbour Coffee Ltd")
    for _ in range(3):
        coded_expense(books, status=ExpenseStatus.APPROVED)
    asked: dict[str, Any] = {}

    def switch() -> None:
        try:
            asked["report"] = expenses_api_switch(
                Company.objects.get(pk=books.company.pk), "expenses", by_user=None
            )
        finally:
            connection.close()

    tried = threading.Thread(target=switch)
    real_reads = push.claim_reads

    def reads(plan: Any, ids: list[Any]) -> Any:
        # Inside the slice's transaction, the company lock held: the switch must wait for it.
        tried.start()
        deadline = time.monotonic() + 30
        while not _waiting_on_a_lock():
            assert time.monotonic() < deadline, "the switch never waited for the lock"
            time.sleep(0.05)
        return real_reads(plan, ids)

    monkeypatch.setattr("syncs.claim.claim_reads", reads)

    company_push_claim(company=books.company)
    tried.join(30)

    report = asked["report"]
    assert report.refused
    assert "1 sync not finished; 1 batch not settled; 3 expenses on their way" in report.refusal
    assert speaks(books.company) == ApiGeneration.V1
