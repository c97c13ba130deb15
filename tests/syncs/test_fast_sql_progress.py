"""Each statement of `syncs.fast_sql` gives what its plain ORM version gives, on the same data."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from expenses.models import ExpenseStatus
from syncs import fast_sql
from syncs.models import (
    BatchState,
    PushBatch,
    PushBatchItem,
    ReceiptUpload,
    Sync,
    SyncState,
    UploadState,
)
from tests.factories import ReceiptFactory
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db
S = ExpenseStatus


def _count_of(queryset: QuerySet[Any], sync_field: str, **filters: Any) -> Coalesce:
    """Rows of `queryset` whose sync (`sync_field`, "" for the syncs themselves) is one of the
    push's: the outer sync itself, or one sharing its push id."""
    path = f"{sync_field}__" if sync_field else ""
    members = Q(**{f"{path}pk" if not path else sync_field: OuterRef("pk")}) | Q(
        **{f"{path}push_id": OuterRef("push_id")}
    )
    counted = (
        queryset.filter(members, **filters)
        .order_by()
        .annotate(one=Value(1))
        .values("one")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)


def _orm_recent_syncs(company_id: int, recent: int) -> list[Any]:
    items, uploads, syncs = PushBatchItem.objects.all(), ReceiptUpload.objects.all(), Sync.objects
    later = Sync.objects.filter(push_id=OuterRef("push_id")).filter(
        Q(requested_at__gt=OuterRef("requested_at"))
        | Q(requested_at=OuterRef("requested_at"), pk__gt=OuterRef("pk"))
    )
    return list(
        Sync.objects.filter(company_id=company_id)
        .filter(Q(push_id__isnull=True) | ~Exists(later))
        .order_by("-requested_at", "-pk")
        .annotate(
            syncs_total=_count_of(syncs.all(), ""),
            syncs_initiating=_count_of(syncs.filter(state=SyncState.INITIATING), ""),
            syncs_in_progress=_count_of(syncs.filter(state=SyncState.IN_PROGRESS), ""),
            batches_total=_count_of(PushBatch.objects.all(), "sync"),
            batches_posted=_count_of(PushBatch.objects.exclude(state=BatchState.PENDING), "sync"),
            expenses=_count_of(items, "batch__sync"),
            synced=_count_of(items, "batch__sync", expense__status=S.SYNCED),
            failed=_count_of(items, "batch__sync", expense__status=S.FAILED),
            pushing=_count_of(items, "batch__sync", expense__status=S.PUSHING),
            syncing=_count_of(items, "batch__sync", expense__status=S.SYNCING),
            receipts_total=_count_of(uploads, "sync"),
            receipts_uploaded=_count_of(uploads.filter(state=UploadState.UPLOADED), "sync"),
            receipts_gave_up=_count_of(uploads.filter(state=UploadState.GAVE_UP), "sync"),
        )[:recent]
    )


def _sync(
    books,
    *,
    days_ago: int,
    batches: list[tuple[str, list[str]]],
    uploads: list[str],
    push_id: uuid.UUID | None = None,
    state: str = SyncState.IN_PROGRESS,
):
    sync = Sync.objects.create(
        company=books.company, state=state, codat_sync_id=uuid.uuid4(), push_id=push_id
    )
    Sync.objects.filter(pk=sync.pk).update(requested_at=timezone.now() - timedelta(days=days_ago))
    for state, statuses in batches:
        batch = PushBatch.objects.create(
            company=books.company,
            sync=sync,
            state=state,
            dataset_id=None if state == BatchState.PENDING else uuid.uuid4(),
        )
        for status in statuses:
            PushBatchItem.objects.create(batch=batch, expense=coded_expense(books, status=status))
    for state in uploads:
        receipt = ReceiptFactory(expense=coded_expense(books, status=S.SYNCED))
        attachment = "att-1" if state == UploadState.UPLOADED else ""
        ReceiptUpload.objects.create(
            receipt=receipt, sync=sync, state=state, codat_attachment_id=attachment
        )
    return sync


def test_recent_syncs_are_the_orms_syncs_with_their_progress_counted():
    books = pushable_company(name="Acme Ltd")
    _sync(books, days_ago=3, batches=[(BatchState.DONE, [S.SYNCED, S.SYNCED])], uploads=[])
    _sync(
        books,
        days_ago=2,
        batches=[
            (BatchState.DONE, [S.SYNCED, S.FAILED, S.FAILED]),
            (BatchState.POSTED, [S.SYNCING]),
            (BatchState.PENDING, [S.PUSHING, S.PUSHING]),
        ],
        uploads=[UploadState.UPLOADED, UploadState.GAVE_UP, UploadState.PENDING],
    )
    _sync(books, days_ago=1, batches=[], uploads=[])
    _sync(pushable_company(name="Other Ltd"), days_ago=0, batches=[], uploads=[])

    def read(syncs: list[Any]) -> list[tuple[Any, ...]]:
        return [(s.pk, *(getattr(s, name) for name in fast_sql.PROGRESS_COUNTS)) for s in syncs]

    fast = read(fast_sql.recent_syncs_with_progress(company_id=books.company.pk, recent=2))

    assert fast == read(_orm_recent_syncs(books.company.pk, 2))
    assert [counts[1:] for counts in fast] == [
        (1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (1, 0, 1, 3, 2, 6, 1, 2, 2, 1, 3, 1, 1),
    ]


def test_a_push_of_several_syncs_is_one_row_counting_them_all():
    """A push through a generation that starts a sync per batch: one row, its newest sync,
    with every sync's batches, expenses and receipts counted together."""
    books = pushable_company(name="Acme Ltd")
    older = _sync(books, days_ago=5, batches=[(BatchState.DONE, [S.SYNCED])], uploads=[])
    push = uuid.uuid4()
    _sync(
        books,
        days_ago=2,
        push_id=push,
        state=SyncState.SUCCEEDED,
        batches=[(BatchState.DONE, [S.SYNCED, S.SYNCED])],
        uploads=[UploadState.UPLOADED],
    )
    _sync(
        books,
        days_ago=2,
        push_id=push,
        batches=[(BatchState.POSTED, [S.SYNCING, S.FAILED])],
        uploads=[],
    )
    newest = _sync(
        books,
        days_ago=1,
        push_id=push,
        state=SyncState.INITIATING,
        batches=[(BatchState.PENDING, [S.PUSHING])],
        uploads=[],
    )

    def read(syncs: list[Any]) -> list[tuple[Any, ...]]:
        return [(s.pk, *(getattr(s, name) for name in fast_sql.PROGRESS_COUNTS)) for s in syncs]

    fast = read(fast_sql.recent_syncs_with_progress(company_id=books.company.pk, recent=3))

    assert fast == read(_orm_recent_syncs(books.company.pk, 3))
    assert fast == [
        (newest.pk, 3, 1, 1, 3, 2, 5, 2, 1, 1, 1, 1, 1, 0),
        (older.pk, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0),
    ]
