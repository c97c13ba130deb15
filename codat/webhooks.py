"""Verify Codat's signed webhooks and read them into one typed event.

Codat delivers webhooks through Svix. Codat's examples name the headers `webhook-id`,
`webhook-timestamp` and `webhook-signature`; Svix's own names are `svix-id`, `svix-timestamp`
and `svix-signature`. Both are accepted. Two payload generations exist: the current
`ExpensesSyncWebhook` (`eventType` `expenses.sync.successful|unsuccessful`) and the legacy rule
payloads `SyncCompleteWebhook` / `SyncFailedWebhook` (`RuleType` `Sync Completed|Sync Failed`).
A webhook is only a hint to poll: the sync status endpoint is the truth.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from svix.webhooks import Webhook

from codat.types import parse_datetime

# Svix's own tolerance: a message older or newer than this is refused (replay protection).
TOLERANCE = timedelta(minutes=5)

EVENT_SYNC_SUCCESSFUL = "expenses.sync.successful"
EVENT_SYNC_UNSUCCESSFUL = "expenses.sync.unsuccessful"

# Legacy names (rule types, and the deprecated event names the new service still carries)
# mapped to the current event types.
_LEGACY_EVENT_TYPES = {
    "sync completed": EVENT_SYNC_SUCCESSFUL,
    "sync-complete": EVENT_SYNC_SUCCESSFUL,
    "synccompleted": EVENT_SYNC_SUCCESSFUL,
    "sync failed": EVENT_SYNC_UNSUCCESSFUL,
    "sync-failed": EVENT_SYNC_UNSUCCESSFUL,
    "syncfailed": EVENT_SYNC_UNSUCCESSFUL,
}

_HEADER_NAMES = ("id", "timestamp", "signature")


class WebhookError(Exception):
    """A webhook that must not be acted on."""


class WebhookVerificationError(WebhookError):
    """Missing headers, a signature that does not match, or a timestamp outside the window."""


class WebhookPayloadError(WebhookError):
    """Correctly signed, but the body is not a Codat sync webhook this code can read."""


@dataclass(frozen=True)
class WebhookTransaction:
    id: str
    status: str | None
    error_message: str | None


@dataclass(frozen=True)
class WebhookEvent:
    """A sync webhook of either generation, normalised.

    `webhook_id` is the delivery id from the headers: it stays the same across Svix's retries,
    so it is the de-duplication key. `event_type` is always the current name; `source_type`
    keeps what was sent (`expenses.sync.successful`, `Sync Failed`, …).
    """

    webhook_id: str
    event_type: str
    source_type: str
    company_id: str | None
    sync_id: str | None
    sync_status_code: int | None
    sync_status: str | None
    transactions: tuple[WebhookTransaction, ...]
    occurred_at: datetime
    legacy: bool
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def succeeded(self) -> bool | None:
        if self.event_type == EVENT_SYNC_SUCCESSFUL:
            return True
        if self.event_type == EVENT_SYNC_UNSUCCESSFUL:
            return False
        return None


def verify_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
) -> WebhookEvent:
    """Check that Codat sent `body` (signature and freshness) and parse it.

    The signature is computed by the svix library's signer from the raw body and compared in
    constant time with every `v1,` entry of the signature header. Svix's `verify()` is not used
    as-is because it reads the wall clock itself; here the 5-minute window is checked against
    `now` so the check is testable and the same as Svix's.
    """
    if not secret:
        raise ValueError("the webhook signing secret is empty")
    try:
        signer = Webhook(secret)
    except (binascii.Error, ValueError, RuntimeError) as exc:
        raise ValueError("the webhook signing secret is not a valid whsec_ secret") from exc

    msg_id, timestamp_header, signature_header = _signature_headers(headers)
    timestamp = _check_timestamp(timestamp_header, now or datetime.now(UTC))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookVerificationError("webhook body is not UTF-8") from exc

    expected = base64.b64decode(signer.sign(msg_id, timestamp, text).split(",", 1)[1])
    if not any(
        hmac.compare_digest(expected, candidate) for candidate in _v1_signatures(signature_header)
    ):
        raise WebhookVerificationError("webhook signature does not match")
    return parse_webhook(msg_id, body, received_at=timestamp)


def parse_webhook(webhook_id: str, body: bytes, *, received_at: datetime) -> WebhookEvent:
    """Read a verified body of either payload generation into a `WebhookEvent`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WebhookPayloadError("webhook body is not JSON") from exc
    if not isinstance(data, Mapping):
        raise WebhookPayloadError("webhook body is not a JSON object")
    if "RuleType" in data or "AlertId" in data:
        return _legacy_event(webhook_id, data, received_at)
    if "eventType" in data:
        return _current_event(webhook_id, data, received_at)
    raise WebhookPayloadError("webhook body has neither `eventType` nor `RuleType`")


def _signature_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    lowered = {key.lower(): value for key, value in headers.items()}
    values: list[str] = []
    for name in _HEADER_NAMES:
        value = lowered.get(f"webhook-{name}") or lowered.get(f"svix-{name}")
        if not value:
            raise WebhookVerificationError(f"missing webhook-{name} (or svix-{name}) header")
        values.append(value)
    return values[0], values[1], values[2]


def _check_timestamp(value: str, now: datetime) -> datetime:
    try:
        timestamp = datetime.fromtimestamp(int(value), tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise WebhookVerificationError("webhook timestamp is not Unix seconds") from exc
    if timestamp < now - TOLERANCE:
        raise WebhookVerificationError("webhook timestamp is too old")
    if timestamp > now + TOLERANCE:
        raise WebhookVerificationError("webhook timestamp is too far in the future")
    return timestamp


def _v1_signatures(header: str) -> list[bytes]:
    signatures = []
    for entry in header.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            signatures.append(base64.b64decode(encoded, validate=True))
        except binascii.Error:
            continue
    return signatures


def _current_event(webhook_id: str, data: Mapping[str, Any], received_at: datetime) -> WebhookEvent:
    source_type = _text(data.get("eventType")) or ""
    payload = data.get("payload")
    payload = payload if isinstance(payload, Mapping) else {}
    company = payload.get("referenceCompany")
    raw_transactions = payload.get("transactions")
    transactions = tuple(
        WebhookTransaction(
            id=str(item["id"]),
            status=_text(item.get("status")),
            error_message=_text(item.get("errorMessage")),
        )
        for item in (raw_transactions if isinstance(raw_transactions, list) else [])
        if isinstance(item, Mapping) and item.get("id") is not None
    )
    return WebhookEvent(
        webhook_id=webhook_id,
        event_type=_LEGACY_EVENT_TYPES.get(source_type.lower(), source_type),
        source_type=source_type,
        company_id=_text(company.get("id")) if isinstance(company, Mapping) else None,
        sync_id=_text(payload.get("syncId")),
        sync_status_code=_int(payload.get("syncStatusCode")),
        sync_status=_text(payload.get("syncStatus")),
        transactions=transactions,
        occurred_at=parse_datetime(data.get("generatedDate")) or received_at,
        legacy=False,
        raw=data,
    )


def _legacy_event(webhook_id: str, data: Mapping[str, Any], received_at: datetime) -> WebhookEvent:
    source_type = _text(data.get("RuleType")) or ""
    event_data = data.get("Data")
    event_data = event_data if isinstance(event_data, Mapping) else {}
    failure_stage = _text(event_data.get("FailureStage"))
    return WebhookEvent(
        webhook_id=webhook_id,
        event_type=_LEGACY_EVENT_TYPES.get(source_type.lower(), source_type),
        source_type=source_type,
        company_id=_text(data.get("CompanyId")),
        sync_id=_text(event_data.get("syncId")),
        sync_status_code=None,
        # The legacy failure names the step it failed at; that is the closest to a status.
        sync_status=failure_stage,
        transactions=(),
        occurred_at=received_at,
        legacy=True,
        raw=data,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
