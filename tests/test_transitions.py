"""Every state machine: each legal move works and is recorded, each illegal one is refused
and changes nothing, and a move made from a stale read loses to the process that moved first."""

import itertools
import uuid

import pytest

from companies.models import CompanyStatus, ConnectionStatus
from companies.services import (
    COMPANY_TRANSITIONS,
    CONNECTION_TRANSITIONS,
    company_transition,
    connection_set_status,
)
from expenses.models import EXPENSE_TRANSITIONS, EventKind, Expense, ExpenseStatus
from expenses.services import expense_transition
from sfe_portal.transitions import IllegalTransition, StaleState
from syncs.models import (
    BATCH_TRANSITIONS,
    SYNC_TRANSITIONS,
    UPLOAD_TRANSITIONS,
    BatchState,
    SyncState,
    UploadState,
)
from syncs.services import batch_transition, receipt_upload_transition, sync_transition
from tests.factories import (
    CompanyFactory,
    ConnectionFactory,
    ExpenseFactory,
    PushBatchFactory,
    ReceiptUploadFactory,
    SyncFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _pairs(states, transitions, *, legal):
    return [
        (a, b)
        for a, b in itertools.product(states, repeat=2)
        if (b in transitions.get(a, frozenset())) == legal
    ]


def test_every_state_has_a_declared_set_of_moves():
    for states, transitions in [
        (ExpenseStatus, EXPENSE_TRANSITIONS),
        (CompanyStatus, COMPANY_TRANSITIONS),
        (ConnectionStatus, CONNECTION_TRANSITIONS),
        (BatchState, BATCH_TRANSITIONS),
        (SyncState, SYNC_TRANSITIONS),
        (UploadState, UPLOAD_TRANSITIONS),
    ]:
        assert set(transitions) == set(states)


# --- Expenses ---------------------------------------------------------------------------------


def _expense_in(status):
    approved = status in {"approved", "pushing", "syncing", "synced", "failed"}
    return ExpenseFactory(status=status, approved_at="2026-11-01T10:00Z" if approved else None)


@pytest.mark.parametrize(
    ("current", "target"), _pairs(ExpenseStatus, EXPENSE_TRANSITIONS, legal=True)
)
def test_expense_legal_move_is_applied_and_recorded(current, target):
    expense = _expense_in(current)
    user = UserFactory()

    expense_transition(expense=expense, to=target, by=user, message="because")

    expense.refresh_from_db()
    assert expense.status == target
    event = expense.events.get()
    assert (event.kind, event.from_status, event.to_status) == (EventKind.STATUS, current, target)
    assert (event.actor, event.message) == (user, "because")


@pytest.mark.parametrize(
    ("current", "target"), _pairs(ExpenseStatus, EXPENSE_TRANSITIONS, legal=False)
)
def test_expense_illegal_move_is_refused_and_changes_nothing(current, target):
    expense = _expense_in(current)

    with pytest.raises(IllegalTransition, match=f"from '{current}' to '{target}'"):
        expense_transition(expense=expense, to=target)

    expense.refresh_from_db()
    assert expense.status == current
    assert not expense.events.exists()


def test_approval_records_who_and_when_and_unapproval_clears_it():
    expense = ExpenseFactory(status=ExpenseStatus.CATEGORIZED)
    approver = UserFactory()

    expense_transition(expense=expense, to=ExpenseStatus.APPROVED, by=approver)
    expense.refresh_from_db()
    assert expense.approved_by == approver
    assert expense.approved_at is not None

    expense_transition(expense=expense, to=ExpenseStatus.CATEGORIZED)
    expense.refresh_from_db()
    assert expense.approved_by is None
    assert expense.approved_at is None


def test_synced_expense_records_when():
    expense = _expense_in(ExpenseStatus.SYNCING)

    expense_transition(expense=expense, to=ExpenseStatus.SYNCED)

    expense.refresh_from_db()
    assert expense.synced_at is not None
    assert expense.approved_at is not None  # kept: the ledger record was approved


def test_stale_expense_move_loses_to_the_first_process():
    expense = ExpenseFactory(status=ExpenseStatus.CATEGORIZED)
    other_process_copy = Expense.objects.get(pk=expense.pk)
    expense_transition(expense=other_process_copy, to=ExpenseStatus.APPROVED)

    with pytest.raises(StaleState):
        expense_transition(expense=expense, to=ExpenseStatus.EXCLUDED)

    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.APPROVED
    assert expense.events.count() == 1


# --- Companies and connections ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"), _pairs(CompanyStatus, COMPANY_TRANSITIONS, legal=True)
)
def test_company_legal_move(current, target):
    company = CompanyFactory(status=current)

    company_transition(company=company, to=target)

    company.refresh_from_db()
    assert company.status == target


@pytest.mark.parametrize(
    ("current", "target"), _pairs(CompanyStatus, COMPANY_TRANSITIONS, legal=False)
)
def test_company_illegal_move(current, target):
    company = CompanyFactory(status=current)

    with pytest.raises(IllegalTransition):
        company_transition(company=company, to=target)

    company.refresh_from_db()
    assert company.status == current


@pytest.mark.parametrize(
    ("current", "target"), _pairs(ConnectionStatus, CONNECTION_TRANSITIONS, legal=True)
)
def test_connection_legal_move(current, target):
    connection = ConnectionFactory(status=current)

    connection_set_status(connection=connection, status=target)

    connection.refresh_from_db()
    assert connection.status == target
    assert connection.last_checked_at is not None


@pytest.mark.parametrize(
    ("current", "target"),
    [(a, b) for a, b in _pairs(ConnectionStatus, CONNECTION_TRANSITIONS, legal=False) if a != b],
)
def test_connection_illegal_move(current, target):
    connection = ConnectionFactory(status=current)

    with pytest.raises(IllegalTransition):
        connection_set_status(connection=connection, status=target)


def test_connection_same_status_only_marks_it_checked():
    connection = ConnectionFactory(status=ConnectionStatus.LINKED)

    connection_set_status(connection=connection, status=ConnectionStatus.LINKED)

    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.LINKED
    assert connection.last_checked_at is not None


# --- Batches, syncs, receipt uploads ----------------------------------------------------------


def _batch_in(state):
    needs_dataset = state not in {BatchState.PENDING, BatchState.ABANDONED}
    needs_sync = state in {BatchState.SYNC_REQUESTED, BatchState.DONE}
    return PushBatchFactory(
        state=state,
        dataset_id=uuid.uuid4() if needs_dataset else None,
        sync=SyncFactory() if needs_sync else None,
    )


@pytest.mark.parametrize(("current", "target"), _pairs(BatchState, BATCH_TRANSITIONS, legal=True))
def test_batch_legal_move(current, target):
    batch = _batch_in(current)
    batch.dataset_id = batch.dataset_id or uuid.uuid4()
    batch.sync = batch.sync or SyncFactory(company=batch.company)

    batch_transition(batch=batch, to=target)

    batch.refresh_from_db()
    assert batch.state == target


@pytest.mark.parametrize(("current", "target"), _pairs(BatchState, BATCH_TRANSITIONS, legal=False))
def test_batch_illegal_move(current, target):
    batch = _batch_in(current)

    with pytest.raises(IllegalTransition):
        batch_transition(batch=batch, to=target)

    batch.refresh_from_db()
    assert batch.state == current


def _sync_in(state):
    has_id = state != SyncState.INITIATING
    return SyncFactory(state=state, codat_sync_id=uuid.uuid4() if has_id else None)


@pytest.mark.parametrize(("current", "target"), _pairs(SyncState, SYNC_TRANSITIONS, legal=True))
def test_sync_legal_move(current, target):
    sync = _sync_in(current)
    sync.codat_sync_id = sync.codat_sync_id or uuid.uuid4()

    sync_transition(sync=sync, to=target)

    sync.refresh_from_db()
    assert sync.state == target
    assert (sync.completed_at is not None) == sync.is_finished


@pytest.mark.parametrize(("current", "target"), _pairs(SyncState, SYNC_TRANSITIONS, legal=False))
def test_sync_illegal_move(current, target):
    sync = _sync_in(current)

    with pytest.raises(IllegalTransition):
        sync_transition(sync=sync, to=target)


@pytest.mark.parametrize(("current", "target"), _pairs(UploadState, UPLOAD_TRANSITIONS, legal=True))
def test_upload_legal_move(current, target):
    upload = ReceiptUploadFactory(
        state=current, codat_attachment_id="1" if current == UploadState.UPLOADED else ""
    )
    upload.codat_attachment_id = "14000000001"

    receipt_upload_transition(upload=upload, to=target)

    upload.refresh_from_db()
    assert upload.state == target
    if target == UploadState.UPLOADING:
        assert upload.attempts == 1


@pytest.mark.parametrize(
    ("current", "target"), _pairs(UploadState, UPLOAD_TRANSITIONS, legal=False)
)
def test_upload_illegal_move(current, target):
    upload = ReceiptUploadFactory(
        state=current, codat_attachment_id="1" if current == UploadState.UPLOADED else ""
    )

    with pytest.raises(IllegalTransition):
        receipt_upload_transition(upload=upload, to=target)
