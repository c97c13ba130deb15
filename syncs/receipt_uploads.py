"""Sending receipts to Codat, one tracked upload per file and sync.

Each upload is claimed with a conditional update before any byte is sent, so two workers
never send the same file. Codat writes attachments to the platform synchronously, so its
answer is final: an id means the file is in the ledger, a 4xx means the platform will never
take it (too large, a type it refuses) and the upload gives up with Codat's words, and a 5xx,
429 or timeout is tried again later with capped exponential backoff. The stored file is only
ever read.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from codat import CodatError, CodatRateLimitedError
from codat.backoff import Backoff
from gateway.exchanges import codat_client
from syncs.models import ReceiptUpload, UploadState
from syncs.services import receipt_upload_transition, uploads_move
from syncs.signals import receipt_upload_gave_up

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
UPLOAD_BACKOFF = Backoff(first=BACKOFF_BASE.total_seconds(), cap=BACKOFF_CAP.total_seconds())
# An upload still "uploading" this long after its claim was left by a worker that died (the
# task time limit is 15 minutes); the sweeper makes it retryable again.
CLAIM_LEASE = timedelta(minutes=15)
# A pending upload whose task was never run (broker lost it) is picked up after this.
PENDING_GRACE = timedelta(minutes=2)

_U = UploadState


def upload_backoff(attempts: int) -> timedelta:
    """30 s after the first failure, doubling each time, never more than an hour (each up to a
    fifth shorter at random)."""
    return timedelta(seconds=UPLOAD_BACKOFF.delay(attempts - 1))


def receipt_upload_claim(*, upload: ReceiptUpload, now: datetime) -> bool:
    """Move a due pending/failed upload to uploading; False when another worker got it first,
    it is not due yet, or it is in no state to be sent.

    The update matches the state *and* the attempt count read, so a claim made from a stale
    copy can never win, even after the row went round the cycle and came back to that state.
    """
    current = UploadState(upload.state)
    if current not in (_U.PENDING, _U.FAILED):
        return False
    claimed = (
        uploads_move(
            ReceiptUpload.objects.filter(
                Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
                pk=upload.pk,
                attempts=upload.attempts,
            ),
            state=_U.UPLOADING,
            current=current,
            attempts=F("attempts") + 1,
            # While uploading, next_attempt_at is the end of the claim's lease.
            next_attempt_at=now + CLAIM_LEASE,
        )
        == 1
    )
    if claimed:
        upload.refresh_from_db()
    return claimed


def receipt_upload_send(*, upload: ReceiptUpload, now: datetime | None = None) -> ReceiptUpload:
    """Claim the upload and send its file; returns the row as it ends (uploaded, failed with
    a next attempt, or gave_up), or unchanged when there was nothing to do."""
    now = now or timezone.now()
    upload = ReceiptUpload.objects.select_related("receipt", "sync__company").get(pk=upload.pk)
    if not receipt_upload_claim(upload=upload, now=now):
        return upload
    receipt, sync = upload.receipt, upload.sync
    client = codat_client(company_id=sync.company_id)
    try:
        with receipt.file.open("rb") as file:
            attachment = client.upload_attachment(
                str(sync.company.codat_company_id),
                str(sync.codat_sync_id),
                str(receipt.expense_id),  # the expense id is its Codat transaction id
                file=file,
                file_name=receipt.original_name,
                content_type=receipt.content_type or "application/octet-stream",
            )
    except CodatError as exc:
        return _failed(upload, exc, now)
    except OSError as exc:
        # The stored file cannot be read: trying again will not help until someone looks.
        return _finish(
            upload,
            _U.GAVE_UP,
            last_error=f"The stored receipt could not be read: {exc}",
            next_attempt_at=None,
        )
    logger.info(
        "Receipt %s of expense %s attached to the ledger record",
        receipt.pk,
        receipt.expense_id,
        extra={"company_id": sync.company_id, "sync_id": sync.pk, "expense_id": receipt.expense_id},
    )
    return _finish(
        upload,
        _U.UPLOADED,
        codat_attachment_id=attachment.id[:200],
        uploaded_at=timezone.now(),
        last_error="",
        next_attempt_at=None,
    )


def _failed(upload: ReceiptUpload, exc: CodatError, now: datetime) -> ReceiptUpload:
    message = _codat_words(exc)
    if not exc.transient:
        logger.warning("Codat refused receipt upload %s: %s", upload.pk, message)
        return _finish(upload, _U.GAVE_UP, last_error=message, next_attempt_at=None)
    if upload.attempts >= MAX_ATTEMPTS:
        return _finish(
            upload,
            _U.GAVE_UP,
            last_error=f"Gave up after {upload.attempts} attempts: {message}",
            next_attempt_at=None,
        )
    wait = upload_backoff(upload.attempts)
    if isinstance(exc, CodatRateLimitedError) and exc.retry_after:
        wait = max(wait, timedelta(seconds=exc.retry_after))
    return _finish(upload, _U.FAILED, last_error=message, next_attempt_at=now + wait)


def _codat_words(exc: CodatError) -> str:
    parts = [exc.message]
    parts += [item.message for item in exc.validation_errors if item.message]
    if exc.status is not None:
        parts.append(f"HTTP {exc.status}")
    if exc.correlation_id:
        parts.append(f"correlationId {exc.correlation_id}")
    return " — ".join(parts)[:2000]


@transaction.atomic
def _finish(upload: ReceiptUpload, to: UploadState, **changes: object) -> ReceiptUpload:
    # Only the claim we hold may be settled: the sweeper may have released it meanwhile.
    settled = uploads_move(
        ReceiptUpload.objects.filter(pk=upload.pk, attempts=upload.attempts),
        state=to,
        current=_U.UPLOADING,
        **changes,
    )
    if settled != 1:
        logger.warning("Receipt upload %s changed while it was being sent", upload.pk)
    upload.refresh_from_db()
    if settled == 1 and to == _U.GAVE_UP:
        receipt_upload_gave_up.send(sender=ReceiptUpload, upload=upload)
    return upload


def receipt_uploads_release_stuck(*, now: datetime) -> int:
    """Uploads whose worker died mid-send become failed and due, so the sweeper resends them
    (or gave_up once they have used every attempt); returns how many were released.

    Codat may or may not have received the file before the worker died; sending it again is
    the lesser harm (a second copy in the ledger, rather than a receipt missing).
    """
    stuck = ReceiptUpload.objects.filter(next_attempt_at__lte=now)
    # A file that kills its worker every time must not be resent for ever.
    gave_up = 0
    for upload in stuck.filter(attempts__gte=MAX_ATTEMPTS, state=_U.UPLOADING):
        _finish(
            upload,
            _U.GAVE_UP,
            last_error=f"The worker stopped while sending this file, {MAX_ATTEMPTS} times.",
            next_attempt_at=None,
        )
        gave_up += upload.state == _U.GAVE_UP
    return gave_up + uploads_move(
        stuck,
        state=_U.FAILED,
        current=_U.UPLOADING,
        last_error="The worker stopped while sending this file; it will be sent again.",
        next_attempt_at=now,
    )


def receipt_uploads_due(*, now: datetime) -> list[int]:
    """Ids of uploads that should be sent now: failed ones whose wait is over, and pending ones
    whose task has clearly been lost."""
    stale = now - PENDING_GRACE
    return list(
        ReceiptUpload.objects.filter(
            Q(state=_U.FAILED, next_attempt_at__lte=now)
            | Q(state=_U.PENDING, next_attempt_at__lte=stale)
            | Q(state=_U.PENDING, next_attempt_at__isnull=True, created_at__lte=stale)
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def receipt_upload_retry(*, upload: ReceiptUpload) -> ReceiptUpload:
    """Support sends a file again: after giving up, or after the accountant deleted it in the
    ledger. Raises `IllegalTransition` for uploads that are still being tried."""
    upload = receipt_upload_transition(upload=upload, to=_U.PENDING)
    now = timezone.now()
    # A fresh budget of attempts: support asked for it, usually after fixing the cause.
    ReceiptUpload.objects.filter(pk=upload.pk).update(next_attempt_at=now, attempts=0)
    upload.next_attempt_at, upload.attempts = now, 0
    from syncs.tasks import upload_receipt  # tasks import this module

    upload_pk = upload.pk
    transaction.on_commit(lambda: upload_receipt.delay(upload_pk))
    return upload
