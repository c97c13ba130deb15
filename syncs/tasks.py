"""Celery adapters for the sync pipeline: ids in, one service call, state kept in models.

Every task is safe to run twice: the services claim work with conditional updates, and a
retry resumes from what the database says was done.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.utils import timezone

from companies.models import Company
from gateway.call_slots import CallSlotsBusy, codat_call_slot
from syncs.claim import PushRefused
from syncs.models import BatchState, ReceiptUpload, Sync, SyncState, UploadState
from syncs.poll import sync_poll, sync_poll_due_in
from syncs.receipt_uploads import (
    receipt_upload_send,
    receipt_uploads_due,
    receipt_uploads_release_stuck,
)
from syncs.retries import MAX_RETRIES, TRANSIENT, retry_in, send_batches_next_try
from syncs.selectors import quiet_pushes
from syncs.send import company_push_turn, sync_send_turn
from syncs.services import heartbeat_record
from syncs.signals import push_stalled

logger = logging.getLogger(__name__)

# A sync whose poll is this late was dropped (a worker died): the sweeper picks it up.
STALE_POLL = timedelta(minutes=2)
STALE_INITIATING = timedelta(minutes=15)


def _retry_in(task: Task, exc: Exception) -> float:
    return retry_in(retries=task.request.retries, exc=exc)


def _holder(task: Task) -> str:
    return f"{task.name}:{task.request.id or 'direct'}@{task.request.hostname or 'local'}"


@shared_task(bind=True, name="syncs.heartbeat", acks_late=True, ignore_result=True)
def heartbeat(self: Task) -> None:
    """Proves a worker is consuming a queue; beat sends one every minute."""
    info = self.request.delivery_info or {}
    heartbeat_record(
        queue=str(info.get("routing_key") or self.request.get("queue") or "portal"),
        hostname=str(self.request.hostname or ""),
    )


@shared_task(
    bind=True,
    name="syncs.push_company",
    acks_late=True,
    ignore_result=True,
    max_retries=MAX_RETRIES,
)
def push_company(self: Task, company_id: int) -> None:
    """Claim the company's approved expenses, posting the claimed datasets meanwhile from the
    call slots free; then the sending turns post the rest and initiate."""
    company = Company.objects.get(pk=company_id)
    try:
        claim = company_push_turn(company=company, holder=_holder(self))
    except PushRefused as refused:
        logger.warning("Push of company %s refused: %s", company_id, refused)
        return
    if not claim.syncs:
        return
    first, *others = claim.syncs
    # Where each batch has a sync of its own, each is sent by a turn of its own, side by side
    # on the workers.
    for sync in others:
        send_batches.delay(sync.pk)
    # The first sending turn runs here and now: the datasets were posted while claiming, so it
    # mostly initiates the sync, and going through the queue would only add a wait.
    send_batches(first.pk)


@shared_task(
    bind=True,
    name="syncs.send_batches",
    acks_late=True,
    ignore_result=True,
)
def send_batches(self: Task, sync_id: int, stalls: int = 0) -> None:
    """Post a few datasets of a push, then queue the rest behind whatever else is waiting:
    companies pushing at the same time take turns on the workers."""
    sync = Sync.objects.select_related("company").get(pk=sync_id)
    if sync.state != SyncState.INITIATING:
        return
    pending = sync.batches.filter(state=BatchState.PENDING).count()
    try:
        sync = sync_send_turn(sync=sync, holder=_holder(self))
    except CallSlotsBusy as busy:
        send_batches.apply_async((sync.pk,), countdown=busy.retry_in)
        return
    except TRANSIENT as exc:
        progressed = sync.batches.filter(state=BatchState.PENDING).count() < pending
        stalls, countdown = send_batches_next_try(stalls=stalls, progressed=progressed, exc=exc)
        if stalls > MAX_RETRIES:
            # Left initiating: the sweeper resumes the push once it has been quiet a while.
            logger.warning("Push of sync %s stalled %s times in a row: %s", sync.pk, stalls, exc)
            push_stalled.send(sender=Sync, sync=sync, reason=f"Codat failed {stalls} times: {exc}")
            return
        send_batches.apply_async((sync.pk,), {"stalls": stalls}, countdown=countdown)
        return
    if sync.state == SyncState.INITIATING:
        if sync.claiming and not sync.batches.filter(state=BatchState.PENDING).exists():
            # Its claim queues the sending when complete (the sweeper resumes one cut short).
            return
        send_batches.delay(sync.pk)
    elif sync.state == SyncState.IN_PROGRESS:
        # The time spent recording its start counts towards the first poll's wait.
        poll_sync.apply_async((sync.pk,), countdown=sync_poll_due_in(sync=sync, at_least=0.5))


@shared_task(
    bind=True, name="syncs.poll_sync", acks_late=True, ignore_result=True, max_retries=MAX_RETRIES
)
def poll_sync(self: Task, sync_id: int) -> None:
    sync = Sync.objects.select_related("company").get(pk=sync_id)
    if sync.state != SyncState.IN_PROGRESS:
        # Settled already: by its scheduled poll, or the one its webhook asked for.
        return
    try:
        with codat_call_slot(sync.company_id, holder=_holder(self)):
            sync = sync_poll(sync=sync)
    except CallSlotsBusy as busy:
        poll_sync.apply_async((sync.pk,), countdown=busy.retry_in)
        return
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=_retry_in(self, exc)) from exc
    if sync.state == SyncState.IN_PROGRESS and sync.next_poll_at:
        poll_sync.apply_async((sync.pk,), countdown=sync_poll_due_in(sync=sync))


@shared_task(
    bind=True, name="syncs.send_update", acks_late=True, ignore_result=True, max_retries=MAX_RETRIES
)
def send_update(self: Task, sync_id: int) -> None:
    from syncs.corrections import sync_send_update

    sync = Sync.objects.select_related("company", "update_of").get(pk=sync_id)
    try:
        with codat_call_slot(sync.company_id, holder=_holder(self)):
            sync = sync_send_update(sync=sync)
    except CallSlotsBusy as busy:
        send_update.apply_async((sync.pk,), countdown=busy.retry_in)
        return
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=_retry_in(self, exc)) from exc
    if sync.state == SyncState.IN_PROGRESS:
        poll_sync.apply_async((sync.pk,), countdown=2)


@shared_task(bind=True, name="syncs.upload_receipt", acks_late=True, ignore_result=True)
def upload_receipt(self: Task, upload_id: int) -> None:
    """Send one receipt. Retries are the service's (bounded by its attempt count, timed by
    `next_attempt_at`), so a worker restart loses nothing: the sweeper finds what is due."""
    upload = ReceiptUpload.objects.select_related("sync").filter(pk=upload_id).first()
    if upload is None:
        return
    try:
        with codat_call_slot(upload.sync.company_id, holder=_holder(self)):
            upload = receipt_upload_send(upload=upload)
    except CallSlotsBusy as busy:
        upload_receipt.apply_async((upload.pk,), countdown=busy.retry_in)
        return
    # An eager run (unit tests, debugging) tries once: there the countdown is not waited, and
    # the upload, not due yet, would be queued again over and over.
    if upload.state == UploadState.FAILED and upload.next_attempt_at and not self.request.is_eager:
        delay = max(1.0, (upload.next_attempt_at - timezone.now()).total_seconds())
        upload_receipt.apply_async((upload.pk,), countdown=delay)


@shared_task(name="syncs.sweep", acks_late=True, ignore_result=True)
def sweep(
    stale_poll_s: float = STALE_POLL.total_seconds(),
    stale_initiating_s: float = STALE_INITIATING.total_seconds(),
) -> None:
    """Pick up what a dead worker dropped: syncs no longer polled, pushes never initiated,
    receipt uploads due again or left half-sent."""
    now = timezone.now()
    released = receipt_uploads_release_stuck(now=now)
    if released:
        logger.info("Sweeper: %s receipt uploads were left uploading; sending them again", released)
    for upload_id in receipt_uploads_due(now=now):
        upload_receipt.delay(upload_id)
    for sync_id in Sync.objects.filter(
        state=SyncState.IN_PROGRESS, next_poll_at__lt=now - timedelta(seconds=stale_poll_s)
    ).values_list("pk", flat=True):
        logger.info("Sweeper: following sync %s again", sync_id)
        poll_sync.delay(sync_id)
    for company_id in quiet_pushes(quiet_since=now - timedelta(seconds=stale_initiating_s)):
        logger.info("Sweeper: resuming the push of company %s", company_id)
        push_company.delay(company_id)
