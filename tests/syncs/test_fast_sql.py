"""The pipeline's hand-written SQL (PostgreSQL) against the ORM version it stands in for: on
the same data, the same rows written and the same answer."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from companies.models import Company
from expenses.models import ExpenseStatus
from syncs.fast_sql import (
    KeptResult,
    batch_items_insert,
    company_share_lock,
    results_upsert,
)
from syncs.models import (
    BatchState,
    PushBatch,
    PushBatchItem,
    Sync,
    SyncKind,
    SyncState,
    SyncTransaction,
)
from syncs.settle import results_upsert_orm
from tests.syncs.dashboard_data import coded_expense, pushable_company
from tests.syncs.test_settle import _sync_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the hand-written SQL is PostgreSQL's; the PostgreSQL run checks it")


def _kept(sync: Sync) -> list[tuple[str, str, str, str, str | None]]:
    return sorted(
        (str(t.transaction_id), t.status, t.message, t.cause, str(t.expense_id))
        for t in SyncTransaction.objects.filter(sync=sync)
    )


def test_batch_items_are_inserted_as_the_orm_inserts_them():
    books = pushable_company()
    expenses = [coded_expense(books, status=ExpenseStatus.PUSHING) for _ in range(4)]
    fast, plain = (
        PushBatch.objects.create(company=books.company, state=BatchState.PENDING) for _ in range(2)
    )

    batch_items_insert((fast.pk, e.pk) for e in expenses)
    PushBatchItem.objects.bulk_create(PushBatchItem(batch=plain, expense=e) for e in expenses)

    def items(batch: PushBatch) -> list[str]:
        return sorted(str(pk) for pk in batch.items.values_list("expense_id", flat=True))

    assert items(fast) == items(plain) == sorted(str(e.pk) for e in expenses)


def test_results_are_kept_and_linked_as_the_orm_keeps_them():
    books = pushable_company()
    fast_sync, fast_expenses = _sync_of(books, 3)
    plain_sync, plain_expenses = _sync_of(books, 3)
    stranger = str(uuid.uuid4())  # a transaction Codat reports that is none of the sync's

    def rows(expenses: list, first: str) -> list[KeptResult]:
        return [
            KeptResult(str(expenses[0].pk), first, "Account 400 is archived", "cause", "Expense"),
            KeptResult(str(expenses[1].pk), "Completed", "", "", ""),
            KeptResult(stranger, "Completed", "", "", ""),
        ]

    for first in ("ValidationError", "Completed"):  # the second pass updates what the first kept
        fast_answer = results_upsert(fast_sync, rows(fast_expenses, first))
        plain_answer = results_upsert_orm(plain_sync, rows(plain_expenses, first))

        def same_shape(answer: list, expenses: list) -> list:
            names = {str(e.pk): f"expense {n}" for n, e in enumerate(expenses)}
            return sorted((names[str(t)], s, m) for t, s, m in answer)

        assert same_shape(fast_answer, fast_expenses) == same_shape(plain_answer, plain_expenses)
        assert len(fast_answer) == 2  # the stranger is kept but is not one of the sync's

        def rename(kept: list, expenses: list) -> list:
            names = {str(e.pk): f"expense {n}" for n, e in enumerate(expenses)}
            return sorted((names.get(t, t), s, m, c, names.get(x, x)) for t, s, m, c, x in kept)

        assert rename(_kept(fast_sync), fast_expenses) == rename(_kept(plain_sync), plain_expenses)


def test_a_correction_links_the_expense_it_updates():
    books = pushable_company()
    expense = coded_expense(books, status=ExpenseStatus.SYNCED)
    fast, plain = (
        Sync.objects.create(
            company=books.company,
            state=SyncState.IN_PROGRESS,
            codat_sync_id=uuid.uuid4(),
            kind=SyncKind.UPDATE,
            update_of=expense,
        )
        for _ in range(2)
    )
    row = [KeptResult(str(expense.pk), "Completed", "", "", "")]

    assert results_upsert(fast, row) == results_upsert_orm(plain, row)
    assert SyncTransaction.objects.get(sync=fast).expense_id == expense.pk


def test_the_share_lock_lets_another_share_in_and_keeps_a_lock_alone_out():
    books = pushable_company()
    company_id = books.company.pk
    seen: dict[str, object] = {}
    held = threading.Event()
    done = threading.Event()

    def other() -> None:
        try:
            held.wait(5)
            with transaction.atomic():
                company_share_lock(company_id)  # shared with the holder: granted at once
                seen["shared"] = True
            try:
                with transaction.atomic():
                    Company.objects.select_for_update(nowait=True).filter(pk=company_id).first()
                seen["alone"] = True
            except DatabaseError:
                seen["alone"] = False
        finally:
            done.set()
            connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    with transaction.atomic():
        company_share_lock(company_id)
        held.set()
        done.wait(5)
    thread.join()

    assert seen == {"shared": True, "alone": False}
