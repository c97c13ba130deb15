"""Recording failures as the lower apps announce them, each once, in the transaction of the
change announced, and gathering them per company into one open dispatch, due when its debounce
window (`NOTICE_DEBOUNCE_SECONDS`, from the first event) ends.

A sync's failures, a disconnection, a stalled push and a receipt given up each have a key that
names the occurrence (`sync-failed:<sync>`, …): announced again — a settling run twice, a task
delivered twice — the event is already there and nothing more happens. 200 syncs failing at
once make 200 events and one dispatch, sent once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from companies.models import Company
from notices import clock
from notices.models import DispatchKind, DispatchState, NoticeDispatch, NoticeEvent, NoticeKind
from notices.selectors import receipt_error_cause, receipt_words, sync_failures
from notices.services import dispatch_opened
from syncs.causes import normalise_cause
from syncs.models import ReceiptUpload, Sync, SyncState

logger = logging.getLogger(__name__)

# Tries at joining the company's open dispatch when other transactions open or close it at
# the same moment.
_OPEN_TRIES = 5


def on_sync_settled(sender: type[Sync], sync: Sync, **_: Any) -> None:
    if sync.state not in (SyncState.SUCCEEDED, SyncState.FAILED):
        return
    details = sync_failures(sync=sync)
    if details["failed"]:
        event_record(
            key=f"sync-failed:{sync.pk}",
            company_id=sync.company_id,
            kind=NoticeKind.SYNC_FAILED,
            sync_id=sync.pk,
            details=details,
        )


def on_company_disconnected(sender: type[Company], company: Company, reason: str, **_: Any) -> None:
    event_record(
        # Each move to disconnected is its own occurrence, stamped when it was made.
        key=f"disconnected:{company.pk}:{company.status_changed_at.isoformat()}",
        company_id=company.pk,
        kind=NoticeKind.DISCONNECTED,
        details={"reason": reason},
    )


def on_push_stalled(sender: type[Sync], sync: Sync, reason: str, **_: Any) -> None:
    # Once per sync: the sweeper resumes a stalled push every quarter hour, and while Codat
    # stays down each resumption stalls again; the digest says it is still stalled.
    event_record(
        key=f"push-stalled:{sync.pk}",
        company_id=sync.company_id,
        kind=NoticeKind.PUSH_STALLED,
        sync_id=sync.pk,
        details={"reason": reason},
    )


def on_receipt_upload_gave_up(sender: type[ReceiptUpload], upload: ReceiptUpload, **_: Any) -> None:
    # Once per upload: support sending it again from the admin is watching for the outcome.
    cause = normalise_cause(receipt_error_cause(upload.last_error))
    event_record(
        key=f"receipt-gave-up:{upload.pk}",
        company_id=ReceiptUpload.objects.values_list("sync__company_id", flat=True).get(
            pk=upload.pk
        ),
        kind=NoticeKind.RECEIPT_GAVE_UP,
        sync_id=upload.sync_id,
        details={"cause": cause, "words": receipt_words(cause)},
    )


@transaction.atomic
def event_record(
    *,
    key: str,
    company_id: int,
    kind: NoticeKind,
    details: dict[str, Any],
    sync_id: int | None = None,
) -> NoticeEvent | None:
    """Record the event once and put it in the company's open dispatch (opening one when there
    is none); None when it was recorded before."""
    if NoticeEvent.objects.filter(key=key).exists():
        return None
    now = clock.now()
    dispatch = _open_dispatch(company_id, now)
    try:
        with transaction.atomic():
            return NoticeEvent.objects.create(
                key=key,
                company_id=company_id,
                kind=kind,
                sync_id=sync_id,
                details=details,
                occurred_at=now,
                dispatch=dispatch,
            )
    except IntegrityError:
        # Announced at the same moment by another process, which recorded it.
        return None


def _open_dispatch(company_id: int, now: datetime) -> NoticeDispatch:
    """The company's open dispatch, locked until this transaction ends so its sender waits for
    the event joining it; opened (and its sending queued after commit) when there is none."""
    open_ones = NoticeDispatch.objects.select_for_update().filter(
        company_id=company_id, kind=DispatchKind.EVENTS, state=DispatchState.PENDING
    )
    for _ in range(_OPEN_TRIES):
        dispatch = open_ones.first()
        if dispatch is not None:
            return dispatch
        window = timedelta(seconds=settings.NOTICE_DEBOUNCE_SECONDS)
        try:
            with transaction.atomic():
                dispatch = NoticeDispatch.objects.create(
                    company_id=company_id,
                    kind=DispatchKind.EVENTS,
                    state=DispatchState.PENDING,
                    due_at=now + window,
                    created_at=now,
                )
                dispatch_opened(
                    dispatch=dispatch,
                    note=f"Opened; gathers the company's failures until {dispatch.due_at:%H:%M:%S}",
                )
        except IntegrityError:
            continue  # another transaction opened one meanwhile: join it
        _queue_send(dispatch.pk, countdown=window.total_seconds())
        return dispatch
    raise RuntimeError(f"No open notice dispatch could be found or made for company {company_id}")


def _queue_send(dispatch_id: int, *, countdown: float) -> None:
    from notices.tasks import send_dispatch  # tasks import this module

    transaction.on_commit(
        lambda: send_dispatch.apply_async((dispatch_id,), countdown=countdown), robust=True
    )
