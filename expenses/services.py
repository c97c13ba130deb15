"""Status changes of expenses: the transitions, single and bulk, readiness, approval and exclusion.

Every status change goes through `expense_transition` (one expense) or
`expenses_bulk_transition` (many): a conditional UPDATE from the statuses the state machine
allows, and an `ExpenseEvent` for each expense that moved. Readiness is recomputed from
`expenses.validation` after each change of coding (`expenses.coding`, `expenses.details`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from companies.models import LedgerAccount, Supplier, TaxRate, TrackingCategory
from expenses import fast_sql
from expenses.models import (
    EDITABLE_STATUSES,
    EXPENSE_TRANSITIONS,
    EventKind,
    Expense,
    ExpenseEvent,
    ExpenseStatus,
    acted_as_staff,
)
from expenses.selectors import expense_lines
from expenses.validation import CompanyContext, Problem, company_context, expense_problems
from sfe_portal.transitions import StaleState, check_transition

_APPROVAL_KEPT = frozenset(
    {
        ExpenseStatus.APPROVED,
        ExpenseStatus.PUSHING,
        ExpenseStatus.SYNCING,
        ExpenseStatus.SYNCED,
        ExpenseStatus.FAILED,
        ExpenseStatus.NEEDS_SUPPORT,
    }
)


class ExpenseRefused(Exception):
    """A change the rules refuse; `problems` say which field and what to do."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(str(p) for p in self.problems))


@contextmanager
def refused_if_changed_meanwhile() -> Iterator[None]:
    """Two people acting on one row at once (both approving, one coding while the other
    approves): the second gets a refusal that says so, not an error page. The conditional
    update wrote nothing, and the service's transaction rolls back the rest."""
    try:
        yield
    except StaleState as stale:
        raise ExpenseRefused(
            [
                Problem(
                    "status",
                    "Someone else changed this expense a moment ago.",
                    "The row now shows where it stands; look at it again before changing it.",
                )
            ]
        ) from stale


def expense_ensure_editable(expense: Expense) -> None:
    """Refuse a change of coding or details while the expense is being pushed or is synced."""
    if expense.status not in EDITABLE_STATUSES:
        raise ExpenseRefused(
            [
                Problem(
                    "status",
                    f"The expense is {expense.get_status_display().lower()} and cannot be "
                    "changed here.",
                    "Wait for the sync to finish; a synced expense is corrected through an update.",
                )
            ]
        )


def expense_ensure_same_company(
    expense: Expense,
    records: Iterable[LedgerAccount | TaxRate | TrackingCategory | Supplier | None],
    field_name: str,
) -> None:
    """Refuse records of another company."""
    for record in records:
        if record is not None and record.company_id != expense.company_id:
            raise ExpenseRefused(
                [
                    Problem(
                        field_name,
                        f"'{record}' belongs to another company.",
                        "Choose from this company's own records.",
                    )
                ]
            )


# `_transition` is what services call within their own transaction; `expense_transition` is the
# same body in an atomic block. A public service is the one atomic block (the savepoint a bulk
# action rolls back to when it catches a refusal); the steps inside it add none of their own,
# which would cost two round trips each.


def _transition(
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
    for name, value in changes.items():
        setattr(expense, name, value)
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


# Its own transaction, or a savepoint in the caller's.
expense_transition = transaction.atomic(_transition)


# --- Readiness --------------------------------------------------------------------------------


def expense_readiness(expense: Expense, ctx: CompanyContext | None = None) -> list[Problem]:
    return expense_problems(
        expense, expense_lines(expense), ctx or company_context(company=expense.company)
    )


def _readiness_target(
    status: str, problems: list[Problem], *, edited: bool
) -> ExpenseStatus | None:
    """Where an expense goes after its coding was (re)checked; None means it stays."""
    if status == ExpenseStatus.UNCATEGORIZED:
        return None if problems else ExpenseStatus.CATEGORIZED
    if status == ExpenseStatus.CATEGORIZED:
        return ExpenseStatus.UNCATEGORIZED if problems else None
    if status == ExpenseStatus.APPROVED:
        if problems:
            return ExpenseStatus.UNCATEGORIZED
        return ExpenseStatus.CATEGORIZED if edited else None  # an edit needs a new approval
    if status == ExpenseStatus.FAILED and edited:
        return ExpenseStatus.UNCATEGORIZED if problems else ExpenseStatus.CATEGORIZED
    return None


def expense_refresh_readiness(
    *,
    expense: Expense,
    by: User | None = None,
    ctx: CompanyContext | None = None,
    edited: bool = False,
) -> list[Problem]:
    """Recheck the expense and move it between To categorize and Ready as its problems say."""
    problems = expense_readiness(expense, ctx)
    reason = str(problems[0]) if problems else ""
    target = _readiness_target(expense.status, problems, edited=edited)
    if target is not None:
        message = "Needs recoding: " + reason if problems else "Coding complete"
        _transition(expense=expense, to=target, by=by, message=message[:1000])
    if expense.needs_recoding_reason != reason[:500]:
        expense.needs_recoding_reason = reason[:500]
        Expense.objects.filter(pk=expense.pk).update(
            needs_recoding_reason=expense.needs_recoding_reason
        )
    return problems


# --- Approval and exclusion -------------------------------------------------------------------


@transaction.atomic
def expense_approve(*, expense: Expense, by: User) -> Expense:
    """Approve a ready expense for pushing. Refused with the reasons while anything is wrong."""
    problems = expense_readiness(expense)
    if problems:
        raise ExpenseRefused(problems)
    if expense.status == ExpenseStatus.APPROVED:
        return expense
    if expense.status == ExpenseStatus.UNCATEGORIZED:
        with refused_if_changed_meanwhile():
            expense_transition(
                expense=expense, to=ExpenseStatus.CATEGORIZED, by=by, message="Coding complete"
            )
    if expense.status not in (ExpenseStatus.CATEGORIZED, ExpenseStatus.FAILED):
        raise ExpenseRefused(
            [
                Problem(
                    "status",
                    f"An expense that is {expense.get_status_display().lower()} cannot be "
                    "approved.",
                    "Only expenses ready to approve (or failed and fixed) can be approved.",
                )
            ]
        )
    with refused_if_changed_meanwhile():
        return expense_transition(
            expense=expense, to=ExpenseStatus.APPROVED, by=by, message="Approved"
        )


@transaction.atomic
def expense_exclude(*, expense: Expense, by: User, reason: str = "") -> Expense:
    """Keep an expense out of the ledger (personal spend, duplicates, unsupported types)."""
    return expense_transition(
        expense=expense, to=ExpenseStatus.EXCLUDED, by=by, message=reason or "Excluded"
    )


@transaction.atomic
def expense_restore(*, expense: Expense, by: User) -> Expense:
    """Bring an excluded expense back to the queue, ready or not as its coding says."""
    problems = expense_readiness(expense)
    target = ExpenseStatus.UNCATEGORIZED if problems else ExpenseStatus.CATEGORIZED
    return expense_transition(expense=expense, to=target, by=by, message="Restored")


@transaction.atomic
def expense_mark_synced(*, expense: Expense, by: User, reason: str) -> Expense:
    """Support's word that a failed expense (or one that needs support) is already in the
    ledger (entered by hand, or written by an earlier sync Codat's duplicate protection points
    at). Recorded with why."""
    if not reason.strip():
        raise ExpenseRefused(
            [Problem("reason", "Say why the expense is in the ledger.", "Give the reason.")]
        )
    return expense_transition(
        expense=expense,
        to=ExpenseStatus.SYNCED,
        by=by,
        message=f"Marked as synced by support: {reason.strip()}"[:1000],
    )


def expense_not_in_ledger(*, expense: Expense, by: User, reason: str) -> Expense:
    """Support's word that an expense that needs support is not in the ledger after all: it
    fails, with the reason, and may be fixed and sent again."""
    if not reason.strip():
        raise ExpenseRefused(
            [Problem("reason", "Say how you know it is not in the ledger.", "Give the reason.")]
        )
    if expense.status != ExpenseStatus.NEEDS_SUPPORT:
        raise ExpenseRefused(
            [
                Problem(
                    "status",
                    "Only an expense that needs support is marked as not in the ledger.",
                    "Choose expenses that need support.",
                )
            ]
        )
    message = f"Checked by support, not in the ledger: {reason.strip()}"[:1000]
    with transaction.atomic():
        _transition(expense=expense, to=ExpenseStatus.FAILED, by=by, message=message)
        Expense.objects.filter(pk=expense.pk).update(failure_message=message)
    expense.failure_message = message
    return expense


# --- Many expenses at once --------------------------------------------------------------------

# Expenses moved per statement by expenses_bulk_transition.
BULK_CHUNK = 1000


@transaction.atomic
def expenses_bulk_transition(
    *,
    expense_ids: Sequence[Any],
    current: ExpenseStatus,
    to: ExpenseStatus,
    by: User | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> list[UUID]:
    """Move many expenses from `current` to `to` and record each event, a thousand at a time
    (so 50,000 ids never make one huge statement).

    Only rows still in `current` move (a conditional update, checked again on a row changed
    concurrently), so a concurrent change is never overwritten; the ids that moved are
    returned.
    """
    check_transition("Expense", EXPENSE_TRANSITIONS, current, to)
    now = timezone.now()
    changes: dict[str, Any] = {"status": to, "status_changed_at": now, "updated_at": now}
    if to == ExpenseStatus.SYNCED:
        changes["synced_at"] = now
    elif to not in _APPROVAL_KEPT:
        changes["approved_by"] = None
        changes["approved_at"] = None
    changes.update(extra or {})
    event = {
        "kind": EventKind.STATUS,
        "actor": by,
        "as_staff": acted_as_staff(by),
        "from_status": current,
        "to_status": to,
        "message": message[:1000],
        "data": data or {},
        "created_at": now,
    }
    move = (
        fast_sql.expenses_move_with_events
        if connection.vendor == "postgresql"
        else expenses_move_with_events
    )
    ids = list(expense_ids)
    moved: list[UUID] = []
    for start in range(0, len(ids), BULK_CHUNK):
        moved += move(
            expense_ids=ids[start : start + BULK_CHUNK],
            current=current,
            changes=changes,
            event=event,
        )
    return moved


def expenses_move_with_events(
    *,
    expense_ids: Sequence[UUID],
    current: str,
    changes: dict[str, Any],
    event: dict[str, Any],
) -> list[UUID]:
    """Set `changes` on the expenses still in `current` (locked first, so that no other
    transaction moves them in between) and write `event` (field values of an `ExpenseEvent`)
    for each; the ids that moved. The step of `expenses_bulk_transition`, which checks the
    transition first. The ORM's version: PostgreSQL does the same in one statement
    (`expenses.fast_sql.expenses_move_with_events`)."""
    locked = Expense.objects.select_for_update().filter(pk__in=expense_ids, status=current)
    moved = list(locked.values_list("pk", flat=True))
    if moved:
        Expense.objects.filter(pk__in=moved, status=current).update(**changes)
        ExpenseEvent.objects.bulk_create(ExpenseEvent(expense_id=pk, **event) for pk in moved)
    return moved
