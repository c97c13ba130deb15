"""Reads about syncs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q

from companies.models import Company
from expenses.models import Expense, ExpenseStatus
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


def sync_results_for_expense(*, expense: Any) -> list[SyncTransaction]:
    """Every result Codat gave for this expense, newest sync first, with its sync loaded."""
    return list(
        SyncTransaction.objects.filter(expense=expense)
        .select_related("sync")
        .order_by("-sync__requested_at")
    )


@dataclass(frozen=True)
class SyncProgress:
    sync: Sync
    batches_total: int
    batches_posted: int
    expenses: int
    synced: int
    failed: int
    receipts_total: int
    receipts_uploaded: int

    @property
    def stage(self) -> str:
        """Where the sync is, in words finance staff use."""
        if self.sync.state == SyncState.INITIATING:
            return f"Sending batches to Codat ({self.batches_posted} of {self.batches_total})"
        if self.sync.state == SyncState.IN_PROGRESS:
            code = (
                f" — {self.sync.status_text} ({self.sync.status_code})"
                if self.sync.status_code
                else ""
            )
            return f"Codat is writing to the ledger{code}"
        if self.receipts_total and self.receipts_uploaded < self.receipts_total:
            return f"Uploading receipts ({self.receipts_uploaded} of {self.receipts_total})"
        return "Finished"


@dataclass(frozen=True)
class PushPanel:
    ready_to_push: int
    blockers: list[str]
    recent: list[SyncProgress]

    @property
    def active(self) -> bool:
        return any(p.stage != "Finished" for p in self.recent)


def push_panel(*, company: Company, recent: int = 3) -> PushPanel:
    """The workspace's push button and the progress of the company's latest syncs, read from
    our own tables only (a page never waits on Codat)."""
    from syncs.push import push_blockers

    syncs = list(Sync.objects.filter(company=company).order_by("-requested_at")[:recent])
    ids = [s.pk for s in syncs]
    batches = {
        row["sync_id"]: row
        for row in PushBatch.objects.filter(sync_id__in=ids)
        .values("sync_id")
        .annotate(
            total=Count("id"),
            posted=Count("id", filter=~Q(state=BatchState.PENDING)),
        )
    }
    items = {
        row["batch__sync_id"]: row
        for row in PushBatchItem.objects.filter(batch__sync_id__in=ids)
        .values("batch__sync_id")
        .annotate(
            n=Count("id"),
            synced=Count("id", filter=Q(expense__status=ExpenseStatus.SYNCED)),
            failed=Count("id", filter=Q(expense__status=ExpenseStatus.FAILED)),
        )
    }
    uploads = {
        row["sync_id"]: row
        for row in ReceiptUpload.objects.filter(sync_id__in=ids)
        .values("sync_id")
        .annotate(n=Count("id"), done=Count("id", filter=Q(state=UploadState.UPLOADED)))
    }
    progress = [
        SyncProgress(
            sync=s,
            batches_total=batches.get(s.pk, {}).get("total", 0),
            batches_posted=batches.get(s.pk, {}).get("posted", 0),
            expenses=items.get(s.pk, {}).get("n", 0),
            synced=items.get(s.pk, {}).get("synced", 0),
            failed=items.get(s.pk, {}).get("failed", 0),
            receipts_total=uploads.get(s.pk, {}).get("n", 0),
            receipts_uploaded=uploads.get(s.pk, {}).get("done", 0),
        )
        for s in syncs
    ]
    return PushPanel(
        ready_to_push=Expense.objects.filter(
            company=company, status=ExpenseStatus.APPROVED
        ).count(),
        blockers=push_blockers(company=company),
        recent=progress,
    )
