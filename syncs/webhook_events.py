"""Codat's webhooks, received: verified, recorded once per webhook id, and turned into a poll.

A webhook is only a hint. The sync status endpoint is the truth, so an event never changes a
sync itself: it asks for the matching sync to be polled now instead of at its next backoff.
Svix delivers at least once and keeps the `webhook-id` across retries, so that id is the
de-duplication key and a replay is answered 200 without doing anything again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from codat import WebhookPayloadError, WebhookVerificationError, verify_webhook
from syncs.models import Sync, SyncState, WebhookEvent
from syncs.poll import sync_poll_soon

logger = logging.getLogger(__name__)


class WebhookRejected(Exception):
    """The delivery must not be acted on. `status` is the HTTP answer, `problem` says why."""

    def __init__(self, status: int, problem: str) -> None:
        super().__init__(problem)
        self.status = status
        self.problem = problem


@dataclass(frozen=True)
class WebhookReceipt:
    event: WebhookEvent
    duplicate: bool
    poll_requested: bool


def webhook_receive(
    *, headers: Mapping[str, str], body: bytes, now: datetime | None = None
) -> WebhookReceipt:
    """Verify a delivery and record it; raise `WebhookRejected` for one that is not Codat's.

    Nothing is stored for a delivery that fails verification: anyone can post to the endpoint,
    and what they send must not reach the database.
    """
    now = now or timezone.now()
    try:
        verified = verify_webhook(settings.CODAT_WEBHOOK_SECRET, headers, body, now=now)
    except WebhookVerificationError as exc:
        logger.warning("Refused a Codat webhook that failed verification: %s", exc)
        raise WebhookRejected(401, str(exc)) from exc
    except WebhookPayloadError as exc:
        logger.error("A correctly signed Codat webhook could not be read: %s", exc)
        raise WebhookRejected(400, str(exc)) from exc

    sync_id = _uuid(verified.sync_id)
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            webhook_id=verified.webhook_id[:200],
            defaults={
                "event_type": verified.event_type[:100],
                "payload": dict(verified.raw),
                "verified": True,
                "codat_company_id": _uuid(verified.company_id),
                "codat_sync_id": sync_id,
            },
        )
        if not created:
            return WebhookReceipt(event=event, duplicate=True, poll_requested=False)
        sync = (
            Sync.objects.filter(codat_sync_id=sync_id, state=SyncState.IN_PROGRESS).first()
            if sync_id
            else None
        )
        polled = sync_poll_soon(sync=sync) if sync is not None else False
        if sync is None and not Sync.objects.filter(codat_sync_id=sync_id).exists():
            # Answered 200 all the same: Codat would otherwise retry a sync we will never know.
            event.error = f"No sync of ours has the Codat id {verified.sync_id or '(none)'}."
        event.processed_at = now
        event.save(update_fields=["error", "processed_at"])
    return WebhookReceipt(event=event, duplicate=False, poll_requested=polled)


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
