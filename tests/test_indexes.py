"""Every index is written on each insert and on most updates of its rows: none of the portal's
tables may have an index that another index of the same table already is the start of."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

_INDEXES = """
    SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, i.indisunique,
           i.indkey::text, i.indnkeyatts, i.indclass::text,
           i.indexprs IS NULL AND i.indpred IS NULL, am.amname
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_am am ON am.oid = c.relam
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema()
"""
_OURS = ("accounts", "companies", "expenses", "gateway", "sandbox", "syncs")


def _our_tables() -> set[str]:
    # The tables of the portal's own models; Django's and the many-to-many tables it makes
    # are its own to index.
    # A proxy model (the sign-in locks read through axes' table) owns no table of its own.
    return {
        model._meta.db_table
        for name in _OURS
        for model in apps.get_app_config(name).get_models()
        if not model._meta.proxy
    }


def test_no_plain_index_is_the_start_of_another():
    """A plain btree index whose columns (and operator classes) start another btree index of the
    same table is never needed: the other serves its reads, and it is one more write on every
    insert and status move."""
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's catalog; the PostgreSQL run of the suite checks it")
    ours = _our_tables()
    with connection.cursor() as cursor:
        cursor.execute(_INDEXES)
        indexes = [
            (table, name, unique, tuple(zip(keys.split()[:width], classes.split(), strict=True)))
            for table, name, unique, keys, width, classes, plain, method in cursor.fetchall()
            if plain and method == "btree" and table in ours
        ]

    redundant = sorted(
        f"{name} (starts {other})"
        for table, name, unique, keys in indexes
        if not unique
        for other_table, other, _, other_keys in indexes
        if other_table == table and other != name and other_keys[: len(keys)] == keys
    )

    assert redundant == []


def _plan(queryset) -> str:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL plan; the PostgreSQL run of the suite checks it")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


def test_the_backlog_age_is_read_from_the_index_of_approved_expenses_alone():
    """The dashboard's backlog reads approved expenses only, so its index holds only those: a
    push's moves to pushing, syncing and synced never write it."""
    from datetime import date

    from syncs.dashboard import DashboardFilters, backlog_oldest

    plan = _plan(backlog_oldest(DashboardFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))))

    assert "expense_approved_age_idx" in plan


def test_a_supplier_is_looked_for_among_the_expenses_that_name_one():
    """Deleting a supplier looks for the expenses that name it (it is refused while one does):
    the index holds only those, so the status moves of expenses without one never write it."""
    from expenses.models import Expense

    plan = _plan(Expense.objects.filter(supplier_override__in=[1, 2]))

    assert "expense_supplier_override_idx" in plan


def test_a_users_events_are_looked_for_among_the_events_that_name_one():
    """Deleting a user clears the events that name them: the index holds only those, so the
    pipeline's own events (three for every expense a push sends) never write it."""
    from expenses.models import ExpenseEvent

    plan = _plan(ExpenseEvent.objects.filter(actor__in=[1, 2]))

    assert "expenseevent_actor_idx" in plan


def test_duplicate_protection_reads_earlier_completions_from_the_expense_index():
    """A 5080 sync asks, a chunk at a time, which of its expenses an earlier sync completed:
    by the expense's index, not by a walk over the completed results of every sync ever kept,
    which are nearly all of them."""
    import uuid

    from syncs.models import Sync, SyncState, SyncTransaction
    from syncs.settle import completed_in_other_syncs
    from tests.syncs.dashboard_data import pushable_company

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL plan; the PostgreSQL run of the suite checks it")
    company = pushable_company().company
    earlier = Sync.objects.create(
        company=company, state=SyncState.SUCCEEDED, codat_sync_id=uuid.uuid4()
    )
    SyncTransaction.objects.bulk_create(
        SyncTransaction(
            sync=earlier, company=company, transaction_id=uuid.uuid4(), status="Completed"
        )
        for _ in range(500)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {SyncTransaction._meta.db_table}")

    ids = [str(uuid.uuid4()) for _ in range(3)]
    plan = completed_in_other_syncs(Sync(pk=earlier.pk + 1), ids).explain()

    assert "synctransaction_expense_idx" in plan
