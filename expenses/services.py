"""Writes and workflows on expenses. Every status change goes through `expense_transition`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from expenses.models import (
    EXPENSE_TRANSITIONS,
    EventKind,
    Expense,
    ExpenseEvent,
    ExpenseStatus,
)
from sfe_portal.transitions import StaleState, check_transition

_APPROVAL_KEPT = frozenset(
    {
        ExpenseStatus.APPROVED,
        ExpenseStatus.PUSHING,
        ExpenseStatus.SYNCING,
        ExpenseStatus.SYNCED,
        ExpenseStatus.FAILED,
    }
)


@transaction.atomic
def expense_transition(
    *,
    expense: Expense,
    to: ExpenseStatus,
    by: User | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
) -> Expense:
    """Move `expense` to `to` if the state machine allows it, and record the event.

    The update is conditional on the status we read, so two processes can never both move
    the same expense: the loser gets `StaleState` and nothing is written.
    """
    current = ExpenseStatus(expense.status)
    check_transition("Expense", EXPENSE_TRANSITIONS, current, to)
    now = timezone.now()
    changes: dict[str, Any] = {"status": to, "status_changed_at": now, "updated_at": now}
    if to == ExpenseStatus.APPROVED:
        changes["approved_by"] = by
        changes["approved_at"] = now
    elif to not in _APPROVAL_KEPT:
        changes["approved_by"] = None
        changes["approved_at"] = None
    if to == ExpenseStatus.SYNCED:
        changes["synced_at"] = now
    updated = Expense.objects.filter(pk=expense.pk, status=current).update(**changes)
    if updated != 1:
        raise StaleState("Expense", current)
    for field, value in changes.items():
        setattr(expense, field, value)
    ExpenseEvent.objects.create(
        expense=expense,
        kind=EventKind.STATUS,
        actor=by,
        from_status=current,
        to_status=to,
        message=message,
        data=data or {},
    )
    return expense
