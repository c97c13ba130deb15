"""Moving many expenses at once: only those still in the expected status move, and each one
that moves gets exactly one status event with the message, data and actor given."""

import pytest

from expenses.models import EventKind, ExpenseEvent, ExpenseStatus
from expenses.services import expenses_bulk_transition
from tests.factories import ExpenseFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_each_moved_expense_gets_one_event_with_the_message_data_and_actor():
    approved = ExpenseFactory.create_batch(3, status=ExpenseStatus.APPROVED)
    elsewhere = ExpenseFactory(status=ExpenseStatus.CATEGORIZED)
    user = UserFactory()

    moved = expenses_bulk_transition(
        expense_ids=[e.pk for e in approved] + [elsewhere.pk],
        current=ExpenseStatus.APPROVED,
        to=ExpenseStatus.PUSHING,
        by=user,
        message="Claimed for a push",
        data={"sync_id": "abc", "count": 2},
    )

    assert sorted(moved) == sorted(e.pk for e in approved)
    events = ExpenseEvent.objects.filter(kind=EventKind.STATUS, to_status=ExpenseStatus.PUSHING)
    assert sorted(events.values_list("expense_id", flat=True)) == sorted(moved)
    for event in events:
        assert (event.from_status, event.actor, event.message) == (
            ExpenseStatus.APPROVED,
            user,
            "Claimed for a push",
        )
        assert event.data == {"sync_id": "abc", "count": 2}
        assert event.created_at is not None
    assert not ExpenseEvent.objects.filter(expense=elsewhere).exists()
    elsewhere.refresh_from_db()
    assert elsewhere.status == ExpenseStatus.CATEGORIZED


def test_more_than_a_statement_holds_moves_every_expense_once(monkeypatch):
    monkeypatch.setattr("expenses.services.BULK_CHUNK", 2)
    expenses = ExpenseFactory.create_batch(5, status=ExpenseStatus.SYNCING)

    moved = expenses_bulk_transition(
        expense_ids=[e.pk for e in expenses],
        current=ExpenseStatus.SYNCING,
        to=ExpenseStatus.SYNCED,
    )

    assert len(moved) == 5
    events = ExpenseEvent.objects.filter(to_status=ExpenseStatus.SYNCED)
    assert sorted(events.values_list("expense_id", flat=True)) == sorted(moved)
    assert {e.actor_id for e in events} == {None}
    assert all(e.data == {} for e in events)
