"""The expenses app's hand-written SQL: statements whose plain ORM version would cost a
benchmark figure (bench/README.md) a fifth or more. tests/expenses/test_fast_sql.py checks
each against its plain ORM version on the same data; a statement written for PostgreSQL alone
has that version beside its caller, which uses it on other databases.

Only table and column names from the models are formatted into a statement; every value is a
parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from django.db import connection, models

from expenses.models import CODED_STATUSES, Expense, ExpenseEvent, ExpenseLine
from sfe_portal.db import id_array


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    return cast("models.Field[Any, Any]", model._meta.get_field(name))


# --- The queue's tab counts ---------------------------------------------------------------------


@functools.cache
def _capped_counts_sql(shape: tuple[tuple[int, bool], ...]) -> str:
    parts = []
    table = connection.ops.quote_name(Expense._meta.db_table)
    for statuses, capped in shape:
        where = "company_id = %s"
        if statuses:
            where += " AND status IN (" + ", ".join(["%s"] * statuses) + ")"
        limit = " LIMIT %s" if capped else ""
        parts.append(
            f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} "  # noqa: S608
            f"WHERE {where}{limit}) AS counted)"
        )
    return "SELECT " + ", ".join(parts)


def expense_counts_by_statuses(
    *, company_id: int, counted: Sequence[tuple[Sequence[str], int | None]]
) -> list[int]:
    """For each (statuses, cap) of `counted`, the company's expenses in those statuses (all of
    them for no statuses), counted up to cap + 1 (exactly for None): one round trip, each
    count reading at most cap + 1 entries of the queue index. The queue page and every inline
    action that moves a row show these counts, within the page's budget of queries."""
    shape = tuple((len(statuses), cap is not None) for statuses, cap in counted)
    params: list[Any] = []
    for statuses, cap in counted:
        params += [company_id, *statuses, *([cap + 1] if cap is not None else [])]
    with connection.cursor() as cursor:
        cursor.execute(_capped_counts_sql(shape), params)
        return list(cursor.fetchone())


# --- Suggestions: each merchant's recent codings ----------------------------------------------


def coded_history_rows(
    *, company_id: int, keys: Sequence[str], per_merchant: int
) -> list[tuple[int, str, int, int | None, int | None]]:
    """PostgreSQL: `expenses.suggestions.coded_history_rows` (the ORM's version, same rows).

    One short scan of expense_merchant_history_idx per merchant (LATERAL), whatever the
    company's size: a window over the merchants' coded expenses reads every one of them, on
    every queue page."""
    expense, line = Expense._meta.db_table, ExpenseLine._meta.db_table
    through = ExpenseLine.tracking_categories.through._meta.db_table
    sql = f"""
        SELECT l.id, e.merchant_key, l.account_id, l.tax_rate_id, t.trackingcategory_id
        FROM unnest(%s::text[]) AS k(key)
        CROSS JOIN LATERAL (
            SELECT id, merchant_key, issue_date FROM {expense}
            WHERE company_id = %s AND merchant_key = k.key AND status = ANY(%s)
            ORDER BY issue_date DESC, id DESC LIMIT %s
        ) AS e
        JOIN {line} AS l ON l.expense_id = e.id AND l.position = 0
            AND l.account_id IS NOT NULL
        LEFT JOIN {through} AS t ON t.expenseline_id = l.id
        ORDER BY e.issue_date DESC, e.id DESC
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(keys), company_id, list(CODED_STATUSES), per_merchant])
        return cursor.fetchall()


# --- Bulk status moves ------------------------------------------------------------------------


def expenses_move_with_events(
    *,
    expense_ids: Sequence[UUID],
    current: str,
    changes: dict[str, Any],
    event: dict[str, Any],
) -> list[UUID]:
    """PostgreSQL: `expenses.services.expenses_move_with_events` (the ORM's version) in one
    statement, an UPDATE … RETURNING feeding the events' INSERT.

    The UPDATE's condition is checked again on a row another transaction changed meanwhile,
    so only rows still in `current` move, as under a prior row lock, without writing each row
    once more to lock it. A push moves every expense three times, a thousand a statement."""
    qn = connection.ops.quote_name
    pk = _field(Expense, "id")
    sets = ", ".join(f"{qn(_field(Expense, name).column)} = %s" for name in changes)
    set_params = [
        _field(Expense, name).get_db_prep_save(value, connection) for name, value in changes.items()
    ]
    ids = id_array(pk.get_db_prep_value(value, connection) for value in expense_ids)
    status = qn(_field(Expense, "status").column)
    update_sql = (
        f"UPDATE {qn(Expense._meta.db_table)} SET {sets} "  # noqa: S608
        f"WHERE {qn(pk.column)} = ANY(CAST(%s AS {pk.db_type(connection)}[])) AND {status} = %s"
    )
    values = []
    for name, value in event.items():
        field = _field(ExpenseEvent, name)
        if isinstance(field, models.ForeignKey) and isinstance(value, models.Model):
            value = value.pk
        values.append(field.get_db_prep_save(value, connection))
    # A bare parameter has no type in a SELECT list: the JSON one is cast.
    placeholders = ", ".join(
        "CAST(%s AS jsonb)" if isinstance(_field(ExpenseEvent, name), models.JSONField) else "%s"
        for name in event
    )
    target = ", ".join(qn(_field(ExpenseEvent, name).column) for name in ["expense", *event])
    expense = qn(_field(ExpenseEvent, "expense").column)
    sql = (
        f"WITH moved AS ({update_sql} RETURNING {qn(Expense._meta.db_table)}.{qn(pk.column)}) "  # noqa: S608
        f"INSERT INTO {qn(ExpenseEvent._meta.db_table)} ({target}) "
        f"SELECT {qn(pk.column)}, {placeholders} FROM moved RETURNING {expense}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*set_params, ids, str(current), *values])
        return [pk.to_python(row[0]) for row in cursor.fetchall()]
