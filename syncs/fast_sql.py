"""The syncs app's hand-written SQL, PostgreSQL only where it says so: the one row lock the
ORM cannot take (shared between a claim's slices); the two writes a push repeats for every
expense, sent as arrays in one statement each; and the push panel's progress counts, whose
plain ORM version would cost its figure (bench/README.md) a fifth or more. Each has a test that
compares it with its ORM version on the same data (`tests/syncs/test_fast_sql.py`,
`tests/syncs/test_fast_sql_progress.py`). Only table and column names from the models are
formatted into the statements; every value is a parameter."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, NamedTuple, cast
from uuid import UUID

from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone

from companies.models import Company
from expenses.models import Expense, ExpenseStatus
from sfe_portal.db import id_array
from syncs.models import (
    BatchState,
    PushBatch,
    PushBatchItem,
    ReceiptUpload,
    Sync,
    SyncState,
    SyncTransaction,
    UploadState,
)

# A kept result of one of the sync's own expenses: (transaction id, status, message).
OwnResult = tuple[Any, str, str]


def _column(model: type[Model], name: str) -> str:
    return connection.ops.quote_name(cast("Field[Any, Any]", model._meta.get_field(name)).column)


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def company_share_lock(company_id: int) -> None:
    """Lock the company row `FOR SHARE` to the end of the transaction: slices of a claim side
    by side hold it together, while a slice alone (`select_for_update`) waits for them all."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {_table(Company)} WHERE {_column(Company, 'id')} = %s FOR SHARE",  # noqa: S608
            [company_id],
        )


def batch_items_insert(pairs: Iterable[tuple[Any, Any]]) -> None:
    """Insert the (batch id, expense id) pairs in one statement, as two arrays."""
    pairs = list(pairs)
    sql = (
        f"INSERT INTO {_table(PushBatchItem)} "  # noqa: S608
        f"({_column(PushBatchItem, 'batch')}, {_column(PushBatchItem, 'expense')}) "
        "SELECT * FROM UNNEST(CAST(%s AS uuid[]), CAST(%s AS uuid[]))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [id_array(b for b, _ in pairs), id_array(e for _, e in pairs)])


class KeptResult(NamedTuple):
    """One result of a sync as it is kept."""

    transaction_id: str
    status: str
    message: str
    cause: str
    integration_type: str


KEPT_UPDATED = ["expense", "status", "message", "cause", "integration_type"]


def results_upsert(sync: Sync, rows: list[KeptResult]) -> list[OwnResult]:
    """A chunk of a sync's results in one statement, each column sent as one array, each
    result linked to its expense when one of this sync's batches holds it (or it is the
    expense a correction updates); returns those that are. Keeps the settling of a 50,000-
    expense sync from building and preparing a model instance per result."""
    fields = list(KeptResult._fields)
    kept = ", ".join(f"kept.{name}" for name in fields)
    targets = ", ".join(
        _column(SyncTransaction, name)
        for name in ["sync", "company", "expense", *fields, "fetched_at"]
    )
    arrays = ", ".join(
        f"CAST(%s AS {'uuid[]' if name == 'transaction_id' else 'text[]'})" for name in fields
    )
    updated = ", ".join(
        f"{_column(SyncTransaction, name)} = EXCLUDED.{_column(SyncTransaction, name)}"
        for name in [*KEPT_UPDATED, "company", "fetched_at"]
    )
    unique = ", ".join(_column(SyncTransaction, name) for name in ["sync", "transaction_id"])
    item, batch = PushBatchItem, PushBatch
    # Only table and column names from the models are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {_table(SyncTransaction)} ({targets}) "  # noqa: S608
        f"SELECT %s, %s, CASE WHEN kept.transaction_id = %s OR EXISTS ("
        f"SELECT 1 FROM {_table(item)} JOIN {_table(batch)} "
        f"ON {_table(batch)}.{_column(batch, 'id')} = {_table(item)}.{_column(item, 'batch')} "
        f"WHERE {_table(item)}.{_column(item, 'expense')} = kept.transaction_id "
        f"AND {_table(batch)}.{_column(batch, 'sync')} = %s"
        f") THEN kept.transaction_id END, {kept}, %s "
        f"FROM UNNEST({arrays}) AS kept ({', '.join(fields)}) "
        f"ON CONFLICT ({unique}) DO UPDATE SET {updated} "
        f"RETURNING {_column(SyncTransaction, 'transaction_id')}, "
        f"{_column(SyncTransaction, 'status')}, {_column(SyncTransaction, 'message')}, "
        f"{_column(SyncTransaction, 'expense')}"
    )
    columns = [
        # Each id checked to be one before it is written into the array literal.
        id_array(UUID(v) for v in values) if name == "transaction_id" else list(values)
        for name, values in zip(fields, zip(*rows, strict=True), strict=True)
    ]
    params = [sync.pk, sync.company_id, sync.update_of_id, sync.pk, timezone.now(), *columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            (str(transaction_id), status, message)
            for transaction_id, status, message, expense_id in cursor.fetchall()
            if expense_id is not None
        ]


# What `recent_syncs_with_progress` counts for each push, as attributes of the same names.
PROGRESS_COUNTS = (
    "syncs_total",
    "syncs_initiating",
    "syncs_in_progress",
    "batches_total",
    "batches_posted",
    "expenses",
    "synced",
    "failed",
    "pushing",
    "syncing",
    "receipts_total",
    "receipts_uploaded",
    "receipts_gave_up",
)


@functools.cache
def _recent_syncs_sql() -> str:
    sync, batch = Sync._meta.db_table, PushBatch._meta.db_table
    item, expense = PushBatchItem._meta.db_table, Expense._meta.db_table
    upload = ReceiptUpload._meta.db_table
    # The syncs of the push whose newest sync is `s`: itself, and those sharing its push id.
    members = (
        f"(SELECT m.id FROM {sync} m WHERE m.id = s.id "  # noqa: S608 - table names only
        f"OR (s.push_id IS NOT NULL AND m.push_id = s.push_id))"
    )
    pushed = f"FROM {item} i JOIN {batch} ib ON ib.id = i.batch_id"
    items = f"{pushed} WHERE ib.sync_id IN {members}"
    of_status = f"{pushed} JOIN {expense} e ON e.id = i.expense_id WHERE ib.sync_id IN {members}"
    return f"""
        SELECT s.*,
            (SELECT COUNT(*) FROM {sync} p WHERE p.id IN {members}) AS syncs_total,
            (SELECT COUNT(*) FROM {sync} p WHERE p.id IN {members} AND p.state = %(initiating)s)
                AS syncs_initiating,
            (SELECT COUNT(*) FROM {sync} p WHERE p.id IN {members} AND p.state = %(in_progress)s)
                AS syncs_in_progress,
            (SELECT COUNT(*) FROM {batch} b WHERE b.sync_id IN {members}) AS batches_total,
            (SELECT COUNT(*) FROM {batch} b WHERE b.sync_id IN {members}
                AND b.state <> %(pending)s) AS batches_posted,
            (SELECT COUNT(*) {items}) AS expenses,
            (SELECT COUNT(*) {of_status} AND e.status = %(synced)s) AS synced,
            (SELECT COUNT(*) {of_status} AND e.status = %(failed)s) AS failed,
            (SELECT COUNT(*) {of_status} AND e.status = %(pushing)s) AS pushing,
            (SELECT COUNT(*) {of_status} AND e.status = %(syncing)s) AS syncing,
            (SELECT COUNT(*) FROM {upload} u WHERE u.sync_id IN {members}) AS receipts_total,
            (SELECT COUNT(*) FROM {upload} u WHERE u.sync_id IN {members}
                AND u.state = %(uploaded)s) AS receipts_uploaded,
            (SELECT COUNT(*) FROM {upload} u WHERE u.sync_id IN {members}
                AND u.state = %(gave_up)s) AS receipts_gave_up,
            (SELECT MIN(p.requested_at) FROM {sync} p WHERE p.id IN {members}) AS started_at
        FROM {sync} s
        WHERE s.company_id = %(company)s
            AND (s.push_id IS NULL OR NOT EXISTS (
                SELECT 1 FROM {sync} later WHERE later.push_id = s.push_id
                    AND (later.requested_at > s.requested_at
                        OR (later.requested_at = s.requested_at AND later.id > s.id))))
        ORDER BY s.requested_at DESC, s.id DESC
        LIMIT %(limit)s
    """  # noqa: S608


def recent_syncs_with_progress(*, company_id: int, recent: int) -> list[Any]:
    """The company's `recent` latest pushes (and corrections), newest first, each as its newest
    sync with the progress of all the push's syncs counted (`PROGRESS_COUNTS` and
    `started_at`, attributes a `Sync`'s type does not know): its syncs and those still being
    sent or written, its batches, those posted, its expenses, those synced, failed, pushing and
    syncing, its receipt uploads, those done and those given up. A push through a generation
    that starts a sync per batch is one row however many syncs it made.

    One statement written once per process: every queue page shows the push panel, and the
    ORM would compile the correlated counts anew on each."""
    params = {
        "company": company_id,
        "limit": recent,
        "initiating": SyncState.INITIATING,
        "in_progress": SyncState.IN_PROGRESS,
        "pending": BatchState.PENDING,
        "synced": ExpenseStatus.SYNCED,
        "failed": ExpenseStatus.FAILED,
        "pushing": ExpenseStatus.PUSHING,
        "syncing": ExpenseStatus.SYNCING,
        "uploaded": UploadState.UPLOADED,
        "gave_up": UploadState.GAVE_UP,
    }
    return list(Sync.objects.raw(_recent_syncs_sql(), params))
