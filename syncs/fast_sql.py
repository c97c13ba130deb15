"""The syncs app's hand-written SQL: statements whose plain ORM version would cost a benchmark
figure (bench/README.md) a fifth or more. tests/syncs/test_fast_sql.py checks each against its
plain ORM version on the same data.

Only table names from the models are formatted into a statement; every value is a parameter.
"""

from __future__ import annotations

import functools
from typing import Any

from expenses.models import Expense, ExpenseStatus
from syncs.models import BatchState, PushBatch, PushBatchItem, ReceiptUpload, Sync, UploadState

# What `recent_syncs_with_progress` counts for each sync, as attributes of the same names.
PROGRESS_COUNTS = (
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
    items = f"FROM {item} i JOIN {batch} ib ON ib.id = i.batch_id WHERE ib.sync_id = s.id"
    expense_of = f"JOIN {expense} e ON e.id = i.expense_id"
    return f"""
        SELECT s.*,
            (SELECT COUNT(*) FROM {batch} b WHERE b.sync_id = s.id) AS batches_total,
            (SELECT COUNT(*) FROM {batch} b WHERE b.sync_id = s.id AND b.state <> %(pending)s)
                AS batches_posted,
            (SELECT COUNT(*) {items}) AS expenses,
            (SELECT COUNT(*) FROM {item} i JOIN {batch} ib ON ib.id = i.batch_id {expense_of}
                WHERE ib.sync_id = s.id AND e.status = %(synced)s) AS synced,
            (SELECT COUNT(*) FROM {item} i JOIN {batch} ib ON ib.id = i.batch_id {expense_of}
                WHERE ib.sync_id = s.id AND e.status = %(failed)s) AS failed,
            (SELECT COUNT(*) FROM {item} i JOIN {batch} ib ON ib.id = i.batch_id {expense_of}
                WHERE ib.sync_id = s.id AND e.status = %(pushing)s) AS pushing,
            (SELECT COUNT(*) FROM {item} i JOIN {batch} ib ON ib.id = i.batch_id {expense_of}
                WHERE ib.sync_id = s.id AND e.status = %(syncing)s) AS syncing,
            (SELECT COUNT(*) FROM {upload} u WHERE u.sync_id = s.id) AS receipts_total,
            (SELECT COUNT(*) FROM {upload} u WHERE u.sync_id = s.id AND u.state = %(uploaded)s)
                AS receipts_uploaded,
            (SELECT COUNT(*) FROM {upload} u WHERE u.sync_id = s.id AND u.state = %(gave_up)s)
                AS receipts_gave_up
        FROM {sync} s
        WHERE s.company_id = %(company)s
        ORDER BY s.requested_at DESC
        LIMIT %(limit)s
    """  # noqa: S608


def recent_syncs_with_progress(*, company_id: int, recent: int) -> list[Any]:
    """The company's `recent` latest syncs, newest first, each with its progress counted
    (`PROGRESS_COUNTS`, attributes a `Sync`'s type does not know): its batches, those posted,
    its expenses, those synced, failed, pushing and syncing, its receipt uploads, those done
    and those given up.

    One statement written once per process: every queue page shows the push panel, and the
    ORM would compile the ten correlated counts anew on each."""
    params = {
        "company": company_id,
        "limit": recent,
        "pending": BatchState.PENDING,
        "synced": ExpenseStatus.SYNCED,
        "failed": ExpenseStatus.FAILED,
        "pushing": ExpenseStatus.PUSHING,
        "syncing": ExpenseStatus.SYNCING,
        "uploaded": UploadState.UPLOADED,
        "gave_up": UploadState.GAVE_UP,
    }
    return list(Sync.objects.raw(_recent_syncs_sql(), params))
