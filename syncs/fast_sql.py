"""The pipeline's hand-written SQL, PostgreSQL only: the one row lock the ORM cannot take
(shared between a claim's slices), and the two writes a push repeats for every expense, sent as
arrays in one statement each. Each has a test that compares it with the ORM version the
pipeline uses on SQLite (`tests/syncs/test_fast_sql.py`). Only table and column names from
the models are formatted into the statements; every value is a parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple, cast
from uuid import UUID

from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone

from companies.models import Company
from sfe_portal.db import id_array
from syncs.models import PushBatch, PushBatchItem, Sync, SyncTransaction

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
