"""Each statement of `syncs.fast_sql` gives what its plain ORM version gives, on the same data."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Count, OuterRef, QuerySet, Subquery
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
    counted = (
        queryset.filter(**{sync_field: OuterRef("pk")}, **filters)
        .order_by()
        .values(sync_field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)


def _orm_recent_syncs(company_id: int, recent: int) -> list[Any]:
    items, uploads = PushBatchItem.objects.all(), ReceiptUpload.objects.all()
    return list(
        Sync.objects.filter(company_id=company_id)
        .order_by("-requested_at")
        .annotate(
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


def _sync(books, *, days_ago: int, batches: list[tuple[str, list[str]]], uploads: list[str]):
    sync = Sync.objects.create(
        company=books.company, state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4()
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
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (3, 2, 6, 1, 2, 2, 1, 3, 1, 1),
    ]
