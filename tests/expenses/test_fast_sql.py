"""Each statement of `expenses.fast_sql` gives what its plain ORM version gives, on the same
data. Statements written for PostgreSQL alone are compared in the PostgreSQL run of the suite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import pytest
from django.db import connection, transaction
from django.utils import timezone

from expenses import fast_sql
from expenses.coding import expense_set_coding
from expenses.models import EventKind, Expense, ExpenseEvent, ExpenseStatus, acted_as_staff
from expenses.services import expenses_move_with_events
from expenses.suggestions import coded_history_rows
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, TrackingCategoryFactory, UserFactory

pytestmark = pytest.mark.django_db

T = TypeVar("T")
S = ExpenseStatus


def _postgresql_only(what: str) -> None:
    if connection.vendor != "postgresql":
        reason = f"{what} is written for PostgreSQL; the PostgreSQL run of the suite compares it"
        print(f"\nSKIPPED: {reason}")
        pytest.skip(reason)


def _rolled_back(action: Callable[[], T]) -> T:
    """What `action` returns and reads, with everything it wrote undone."""
    with transaction.atomic():
        outcome = action()
        transaction.set_rollback(True)
    return outcome


def test_tab_counts_are_the_orms_capped_and_exact_counts(books):
    for status, n in [(S.UNCATEGORIZED, 5), (S.CATEGORIZED, 2), (S.APPROVED, 4), (S.FAILED, 1)]:
        ExpenseFactory.create_batch(n, company=books.company, status=status)
    ExpenseFactory.create_batch(3, company=make_books().company, status=S.UNCATEGORIZED)
    counted: list[tuple[tuple[str, ...], int | None]] = [
        ((S.UNCATEGORIZED,), 3),
        ((S.CATEGORIZED, S.APPROVED), 3),
        ((S.CATEGORIZED, S.APPROVED), 10),
        ((S.SYNCED,), 3),
        ((), 3),
        ((), None),
        ((S.APPROVED,), None),
    ]

    def orm_count(statuses: tuple[str, ...], cap: int | None) -> int:
        expenses = Expense.objects.filter(company=books.company)
        if statuses:
            expenses = expenses.filter(status__in=statuses)
        return expenses[: cap + 1].count() if cap is not None else expenses.count()

    fast = fast_sql.expense_counts_by_statuses(company_id=books.company.pk, counted=counted)

    assert fast == [orm_count(statuses, cap) for statuses, cap in counted]
    assert fast == [4, 4, 6, 0, 4, 12, 4]


def test_merchant_history_is_the_orms_recent_codings_per_merchant(books):
    _postgresql_only("The merchant history's LATERAL scan")
    parent = TrackingCategoryFactory(company=books.company, name="Region", has_children=True)
    north = TrackingCategoryFactory(company=books.company, name="North", parent=parent)
    south = TrackingCategoryFactory(company=books.company, name="South", parent=parent)
    first = date(2025, 1, 1)
    for day, (merchant, account, tracking) in enumerate(
        [
            ("Uber #1", books.travel, [north]),
            ("Uber #2", books.travel, [north, south]),
            ("Uber #3", books.meals, []),
            ("Pret", books.meals, [south]),
            ("Pret", books.meals, []),
            ("Pret", books.travel, [north]),
            ("Shell", books.travel, []),
        ]
    ):
        expense = ExpenseFactory(
            company=books.company, merchant_name=merchant, issue_date=first + timedelta(day)
        )
        expense_set_coding(
            expense=expense, by=None, account=account, tax_rate=books.vat, tracking=tracking
        )
    ExpenseFactory(company=books.company, merchant_name="Pret")  # not coded: not history
    wanted = {"keys": ["pret", "uber", "nobody"], "per_merchant": 2}

    orm = coded_history_rows(company_id=books.company.pk, **wanted)
    fast = fast_sql.coded_history_rows(company_id=books.company.pk, **wanted)

    def lines_in_order(rows: list[Any]) -> list[int]:
        return list(dict.fromkeys(row[0] for row in rows))

    assert sorted(fast, key=str) == sorted(orm, key=str)
    assert lines_in_order(fast) == lines_in_order(orm)  # newest first: ties go to the newest
    assert len(lines_in_order(fast)) == 4  # two of each merchant asked for that has any


def test_a_bulk_move_is_the_orms_move_and_events(books):
    _postgresql_only("The bulk move's UPDATE … RETURNING feeding an INSERT")
    approved = ExpenseFactory.create_batch(
        3, company=books.company, status=S.APPROVED, approved_at=timezone.now()
    )
    elsewhere = ExpenseFactory(company=books.company, status=S.CATEGORIZED)
    support = UserFactory(is_staff=True)
    now = timezone.now()
    changes: dict[str, Any] = {
        "status": S.CATEGORIZED,
        "status_changed_at": now,
        "updated_at": now,
        "approved_by": None,
        "approved_at": None,
        "failure_message": "",
    }
    event: dict[str, Any] = {
        "kind": EventKind.STATUS,
        "actor": support,
        "as_staff": acted_as_staff(support),
        "from_status": S.APPROVED,
        "to_status": S.CATEGORIZED,
        "message": "Handed back",
        "data": {"sync_id": "abc", "count": 2},
        "created_at": now,
    }
    ids = [e.pk for e in approved] + [elsewhere.pk]

    def outcome(move: Callable[..., list[Any]]) -> tuple[Any, ...]:
        moved = move(expense_ids=ids, current=S.APPROVED, changes=changes, event=event)
        rows = Expense.objects.filter(pk__in=ids).order_by("pk")
        events = ExpenseEvent.objects.filter(expense_id__in=ids).order_by("expense_id")
        return (
            sorted(moved),
            list(rows.values_list("pk", "status", "approved_by", "approved_at", "updated_at")),
            list(
                events.values_list(
                    "expense_id", "kind", "actor", "as_staff", "from_status", "to_status"
                )
            ),
            list(events.values_list("message", "data")),
        )

    orm = _rolled_back(lambda: outcome(expenses_move_with_events))
    fast = _rolled_back(lambda: outcome(fast_sql.expenses_move_with_events))

    assert fast == orm
    assert fast[0] == sorted(e.pk for e in approved)
