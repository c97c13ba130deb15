"""Webhook delivery: `expenses.sync.successful` / `expenses.sync.unsuccessful` in the
`ExpensesSyncWebhook` shape, signed Svix-style (`webhook-id`, `webhook-timestamp`,
`webhook-signature`), delivered at least once with bounded retries and backoff.

Every attempt is recorded on a `SandboxWebhookDelivery` row; a refused or failing endpoint is
recorded and retried, never raised to the caller.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from svix.webhooks import Webhook

from sandbox.models import (
    DeliveryStatus,
    SandboxSettings,
    SandboxSync,
    SandboxWebhookDelivery,
    TxStatus,
)

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/codat/"
# Seconds to wait after attempt n fails (Svix's schedule, compressed into about half an hour):
# after the last one the delivery is given up and marked failed.
BACKOFF_S = (5, 30, 120, 300, 900)
TIMEOUT_S = 15.0
_WEBHOOK_STATUS = {
    TxStatus.COMPLETED: "Completed",
    TxStatus.PUSH_ERROR: "PushError",
    TxStatus.VALIDATION_ERROR: "Failed",  # the webhook enum has no ValidationError (§3.4)
    TxStatus.PENDING: "Pending",
}

Poster = Callable[..., requests.Response]


def current_settings() -> SandboxSettings:
    row, _ = SandboxSettings.objects.get_or_create(pk=1)
    return row


def webhook_target(row: SandboxSettings) -> tuple[str, str]:
    return (
        row.webhook_url or DEFAULT_WEBHOOK_URL,
        row.webhook_secret or settings.CODAT_WEBHOOK_SECRET,
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def build_payload(sync: SandboxSync, event_id: str, now: datetime) -> dict[str, Any]:
    company = sync.company
    successful = sync.status_code in (2000, 2040)
    return {
        "id": event_id,
        "eventType": "expenses.sync.successful" if successful else "expenses.sync.unsuccessful",
        "generatedDate": _iso(now),
        "payload": {
            "referenceCompany": {
                "id": str(company.id),
                "name": company.name,
                "description": company.description,
                "links": {"portal": f"https://app.codat.io/companies/{company.id}/summary"},
                "tags": company.tags,
            },
            "syncId": str(sync.id),
            "transactions": [
                {
                    "id": tx_id,
                    "status": _WEBHOOK_STATUS[TxStatus(status)],
                    "errorMessage": message if status != TxStatus.COMPLETED else None,
                }
                for tx_id, status, message in sync.transactions.order_by("position").values_list(
                    "transaction_id", "status", "message"
                )
            ],
        },
    }


def webhook_enqueue_for_sync(*, sync: SandboxSync, now: datetime) -> SandboxWebhookDelivery:
    """Record the delivery with the sync's result (same transaction) and hand it to the worker
    after commit."""
    row = current_settings()
    url, secret = webhook_target(row)
    event_id = str(uuid.uuid4())
    payload = build_payload(sync, event_id, now)
    delivery = SandboxWebhookDelivery.objects.create(
        id=f"msg_{uuid.uuid4().hex}",
        company=sync.company,
        sync=sync,
        event_type=payload["eventType"],
        url=url,
        secret=secret,
        payload=json.dumps(payload, separators=(",", ":")),
        created=now,
        next_attempt_at=now,
    )
    from sandbox.tasks import deliver_webhook_task, enqueue  # tasks imports this module

    transaction.on_commit(lambda: enqueue(deliver_webhook_task, delivery.id))
    return delivery


def sign(delivery: SandboxWebhookDelivery, when: datetime) -> dict[str, str]:
    signature = Webhook(delivery.secret).sign(delivery.id, when, delivery.payload)
    return {
        "content-type": "application/json",
        "webhook-id": delivery.id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }


def webhook_deliver(
    *, delivery_id: str, now: datetime, post: Poster = requests.post
) -> SandboxWebhookDelivery | None:
    """One delivery attempt. Returns the row, now delivered, pending with its next attempt time,
    or failed once the retries are spent; None when there was nothing to do.

    The POST is made outside any transaction: the receiver may write to the same database
    (the embedded portal on SQLite) and must not wait for our lock. Two callers racing may both
    send; delivery is at least once and receivers de-duplicate on `webhook-id`, as with Codat.
    """
    delivery = SandboxWebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING
    ).first()
    if delivery is None:
        return None
    error, code = "", None
    try:
        response = post(
            delivery.url,
            data=delivery.payload.encode(),
            headers=sign(delivery, now),
            timeout=TIMEOUT_S,
        )
        code = response.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}: {response.text[:500]}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
    with transaction.atomic():
        delivery = (
            SandboxWebhookDelivery.objects.select_for_update()
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return None  # another attempt recorded the outcome first
        delivery.attempts += 1
        delivery.last_status_code = code
        delivery.last_error = error
        delivery.history = [
            *delivery.history,
            {"at": _iso(now), "statusCode": code, "error": error or None},
        ]
        if not error:
            delivery.status = DeliveryStatus.DELIVERED
        elif delivery.attempts > len(BACKOFF_S):
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = now + timedelta(seconds=BACKOFF_S[delivery.attempts - 1])
        delivery.save()
        return delivery


def deliver_due_webhooks(*, now: datetime, post: Poster = requests.post) -> int:
    """Attempt every pending delivery whose time has come (the no-worker path)."""
    due = SandboxWebhookDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING) & Q(next_attempt_at__lte=now)
    ).values_list("id", flat=True)
    count = 0
    for delivery_id in list(due):
        if webhook_deliver(delivery_id=delivery_id, now=now, post=post) is not None:
            count += 1
    return count
