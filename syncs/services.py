"""Writes and workflows on batches, syncs and receipt uploads."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from sfe_portal.transitions import StaleState, check_transition
from syncs.models import (
    BATCH_TRANSITIONS,
    SYNC_TRANSITIONS,
    UPLOAD_TRANSITIONS,
    BatchState,
    PushBatch,
    ReceiptUpload,
    Sync,
    SyncState,
    UploadState,
    WorkerHeartbeat,
)


@transaction.atomic
def batch_transition(*, batch: PushBatch, to: BatchState) -> PushBatch:
    current = BatchState(batch.state)
    check_transition("Push batch", BATCH_TRANSITIONS, current, to)
    changes: dict[str, object] = {"state": to}
    if to == BatchState.POSTED:
        changes["posted_at"] = timezone.now()
        changes["dataset_id"] = batch.dataset_id
    if to in (BatchState.SYNC_REQUESTED, BatchState.DONE):
        changes["sync"] = batch.sync
    if PushBatch.objects.filter(pk=batch.pk, state=current).update(**changes) != 1:
        raise StaleState("Push batch", current)
    for field, value in changes.items():
        setattr(batch, field, value)
    return batch


@transaction.atomic
def sync_transition(*, sync: Sync, to: SyncState) -> Sync:
    current = SyncState(sync.state)
    check_transition("Sync", SYNC_TRANSITIONS, current, to)
    changes: dict[str, object] = {"state": to}
    if to == SyncState.IN_PROGRESS:
        changes["codat_sync_id"] = sync.codat_sync_id
    if to in (SyncState.SUCCEEDED, SyncState.FAILED):
        changes["completed_at"] = timezone.now()
    if Sync.objects.filter(pk=sync.pk, state=current).update(**changes) != 1:
        raise StaleState("Sync", current)
    for field, value in changes.items():
        setattr(sync, field, value)
    return sync


@transaction.atomic
def receipt_upload_transition(*, upload: ReceiptUpload, to: UploadState) -> ReceiptUpload:
    current = UploadState(upload.state)
    check_transition("Receipt upload", UPLOAD_TRANSITIONS, current, to)
    changes: dict[str, object] = {"state": to}
    if to == UploadState.UPLOADING:
        changes["attempts"] = upload.attempts + 1
    if to == UploadState.UPLOADED:
        changes["uploaded_at"] = timezone.now()
        changes["codat_attachment_id"] = upload.codat_attachment_id
    if ReceiptUpload.objects.filter(pk=upload.pk, state=current).update(**changes) != 1:
        raise StaleState("Receipt upload", current)
    for field, value in changes.items():
        setattr(upload, field, value)
    return upload


def heartbeat_record(*, queue: str, hostname: str) -> WorkerHeartbeat:
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        queue=queue, defaults={"hostname": hostname, "last_seen_at": timezone.now()}
    )
    return beat
