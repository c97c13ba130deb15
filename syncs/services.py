"""Writes and workflows on batches, syncs and receipt uploads."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from codat import SyncStatus
from sfe_portal.transitions import StaleState, check_transition, transition_update
from syncs.models import (
    BATCH_TRANSITIONS,
    FAILED_TRANSACTION_STATUSES,
    SYNC_TRANSITIONS,
    UPLOAD_TRANSITIONS,
    BatchState,
    PushBatch,
    ReceiptUpload,
    Sync,
    SyncState,
    SyncTransaction,
    TransactionStatus,
    UploadState,
    WorkerHeartbeat,
)


def batches_move(
    rows: QuerySet[PushBatch],
    *,
    state: BatchState,
    current: BatchState | list[BatchState] | None = None,
    **changes: Any,
) -> int:
    """Move the batches among `rows` that may go to `state` (from `current`, when given) in
    one conditional update; how many moved."""
    return transition_update(
        rows,
        entity="Push batch",
        transitions=BATCH_TRANSITIONS,
        to=state,
        current=current,
        **changes,
    )


def syncs_move(
    rows: QuerySet[Sync],
    *,
    state: SyncState,
    current: SyncState | list[SyncState] | None = None,
    **changes: Any,
) -> int:
    """Move the syncs among `rows` that may go to `state` (from `current`, when given) in one
    conditional update; how many moved."""
    return transition_update(
        rows, entity="Sync", transitions=SYNC_TRANSITIONS, to=state, current=current, **changes
    )


def uploads_move(
    rows: QuerySet[ReceiptUpload],
    *,
    state: UploadState,
    current: UploadState | list[UploadState] | None = None,
    **changes: Any,
) -> int:
    """Move the receipt uploads among `rows` that may go to `state` (from `current`, when
    given) in one conditional update; how many moved."""
    return transition_update(
        rows,
        entity="Receipt upload",
        transitions=UPLOAD_TRANSITIONS,
        to=state,
        current=current,
        **changes,
    )


def sync_code_succeeded(code: int | None) -> bool:
    """Whether a sync that ended with Codat's status `code` succeeded (2xxx)."""
    return code is not None and 2000 <= code < 3000


def sync_status_fields(status: SyncStatus) -> dict[str, Any]:
    """What the portal keeps of Codat's word on a sync (`get-sync-by-id`, `list-syncs`)."""
    return {
        "status_code": status.sync_status_code,
        "status_text": (status.sync_status or "")[:100],
        "error_message": status.error_message or "",
        "exception_message": status.sync_exception_message or "",
        "data_pushed": status.data_pushed,
        "codat_sync_utc": status.sync_utc,
    }


def sync_end(sync: Sync) -> int:
    """End a sync in progress whose results are all kept: succeeded or failed by its status
    code, with the counts of its results (the dashboard sums them)."""
    counts = SyncTransaction.objects.filter(sync=sync).aggregate(
        completed=Count("pk", filter=Q(status=TransactionStatus.COMPLETED)),
        failed=Count("pk", filter=Q(status__in=FAILED_TRANSACTION_STATUSES)),
    )
    now = timezone.now()
    return syncs_move(
        Sync.objects.filter(pk=sync.pk),
        state=SyncState.SUCCEEDED if sync_code_succeeded(sync.status_code) else SyncState.FAILED,
        current=SyncState.IN_PROGRESS,
        completed_at=now,
        results_fetched_at=now,
        transactions_completed=counts["completed"],
        transactions_failed=counts["failed"],
    )


def sync_fail_unstarted(*, sync: Sync, reason: str) -> int:
    """Codat would not start the sync (or refused the correction it was to carry): it ends
    failed without ever having started, with the reason."""
    return syncs_move(
        Sync.objects.filter(pk=sync.pk),
        state=SyncState.FAILED,
        current=SyncState.INITIATING,
        completed_at=timezone.now(),
        error_message=reason,
    )


@transaction.atomic
def batch_transition(*, batch: PushBatch, to: BatchState) -> PushBatch:
    current = BatchState(batch.state)
    check_transition("Push batch", BATCH_TRANSITIONS, current, to)
    changes: dict[str, Any] = {"state": to}
    if to == BatchState.POSTED:
        changes["posted_at"] = timezone.now()
        changes["dataset_id"] = batch.dataset_id
    if to in (BatchState.SYNC_REQUESTED, BatchState.DONE):
        changes["sync"] = batch.sync
    moved = batches_move(PushBatch.objects.filter(pk=batch.pk), current=current, **changes)
    if moved != 1:
        raise StaleState("Push batch", current)
    for field, value in changes.items():
        setattr(batch, field, value)
    return batch


@transaction.atomic
def sync_transition(*, sync: Sync, to: SyncState) -> Sync:
    current = SyncState(sync.state)
    check_transition("Sync", SYNC_TRANSITIONS, current, to)
    changes: dict[str, Any] = {"state": to}
    if to == SyncState.IN_PROGRESS:
        changes["codat_sync_id"] = sync.codat_sync_id
    if to in (SyncState.SUCCEEDED, SyncState.FAILED):
        changes["completed_at"] = timezone.now()
    if syncs_move(Sync.objects.filter(pk=sync.pk), current=current, **changes) != 1:
        raise StaleState("Sync", current)
    for field, value in changes.items():
        setattr(sync, field, value)
    return sync


@transaction.atomic
def receipt_upload_transition(*, upload: ReceiptUpload, to: UploadState) -> ReceiptUpload:
    current = UploadState(upload.state)
    check_transition("Receipt upload", UPLOAD_TRANSITIONS, current, to)
    changes: dict[str, Any] = {"state": to}
    if to == UploadState.UPLOADING:
        changes["attempts"] = upload.attempts + 1
    if to == UploadState.UPLOADED:
        changes["uploaded_at"] = timezone.now()
        changes["codat_attachment_id"] = upload.codat_attachment_id
    if uploads_move(ReceiptUpload.objects.filter(pk=upload.pk), current=current, **changes) != 1:
        raise StaleState("Receipt upload", current)
    for field, value in changes.items():
        setattr(upload, field, value)
    return upload


def heartbeat_record(*, queue: str, hostname: str) -> WorkerHeartbeat:
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        queue=queue, defaults={"hostname": hostname, "last_seen_at": timezone.now()}
    )
    return beat
