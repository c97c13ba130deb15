"""Codat webhooks: only correctly signed, fresh ones are read, in either payload generation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from svix.webhooks import Webhook

from codat import WebhookPayloadError, WebhookVerificationError, verify_webhook
from codat.webhooks import EVENT_SYNC_SUCCESSFUL, EVENT_SYNC_UNSUCCESSFUL

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
MSG_ID = "msg_2bX8aVq1pQ"
COMPANY_ID = "1f9559e7-8368-48c9-bdf4-f158e16b8b85"
SYNC_ID = "321363b4-efa9-4fbc-b71c-0b58d62f3248"

CURRENT = {
    "id": "ba29118f-5406-4e59-b05c-ba307ca38d01",
    "eventType": "expenses.sync.unsuccessful",
    "generatedDate": "2026-03-01T11:59:58Z",
    "payload": {
        "referenceCompany": {"id": COMPANY_ID, "name": "Acme", "links": {"portal": "https://x"}},
        "syncId": SYNC_ID,
        "transactions": [
            {
                "id": "e7f8a9b0-0000-4000-8000-000000000001",
                "status": "Completed",
                "errorMessage": None,
            },
            {
                "id": "e7f8a9b0-0000-4000-8000-000000000002",
                "status": "Failed",
                "errorMessage": "Insufficient funds",
            },
        ],
        "someNewField": True,
    },
}
LEGACY_COMPLETE = {
    "ClientId": "30e0f9d2-52c0-4c9f-a806-bcd98a3bcd7e",
    "ClientName": "Expense Sync",
    "CompanyId": COMPANY_ID,
    "AlertId": "33a4f8e9-09ae-4334-9b00-7bbe83024672",
    "RuleId": "5c27631d-3b63-4b50-8228-ee502fd113eb",
    "RuleType": "Sync Completed",
    "Message": f"Sync {SYNC_ID} for company {COMPANY_ID} of type Expense completed successfully.",
    "Data": {"syncId": SYNC_ID, "syncType": "Expense"},
}
LEGACY_FAILED = {
    **LEGACY_COMPLETE,
    "RuleType": "Sync Failed",
    "Message": f"Sync {SYNC_ID} for company {COMPANY_ID} of type Expense has failed at Pushing.",
    "Data": {"syncId": SYNC_ID, "syncType": "Expense", "FailureStage": "Pushing"},
}


def signed(
    payload: object,
    *,
    secret: str = SECRET,
    at: datetime = NOW,
    prefix: str = "webhook",
    msg_id: str = MSG_ID,
) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    headers = {
        f"{prefix}-id": msg_id,
        f"{prefix}-timestamp": str(int(at.timestamp())),
        f"{prefix}-signature": signature,
    }
    return headers, body


@pytest.mark.parametrize("prefix", ["webhook", "svix", "Webhook", "SVIX"])
def test_a_valid_webhook_is_accepted_with_either_header_spelling(prefix):
    headers, body = signed(CURRENT, prefix=prefix)

    event = verify_webhook(SECRET, headers, body, now=NOW)

    assert event.webhook_id == MSG_ID


def test_the_current_payload_is_read_into_the_event():
    headers, body = signed(CURRENT)

    event = verify_webhook(SECRET, headers, body, now=NOW)

    assert event.event_type == EVENT_SYNC_UNSUCCESSFUL
    assert event.source_type == "expenses.sync.unsuccessful"
    assert event.succeeded is False
    assert event.legacy is False
    assert event.company_id == COMPANY_ID
    assert event.sync_id == SYNC_ID
    assert [(t.status, t.error_message) for t in event.transactions] == [
        ("Completed", None),
        ("Failed", "Insufficient funds"),
    ]
    assert event.occurred_at == datetime(2026, 3, 1, 11, 59, 58, tzinfo=UTC)
    assert event.raw["payload"]["someNewField"] is True


def test_a_successful_current_payload_without_transactions_is_read():
    payload = {
        **CURRENT,
        "eventType": "expenses.sync.successful",
        "payload": {"referenceCompany": {"id": COMPANY_ID}, "syncId": SYNC_ID},
    }
    headers, body = signed(payload)

    event = verify_webhook(SECRET, headers, body, now=NOW)

    assert event.succeeded is True
    assert event.transactions == ()


def test_the_legacy_sync_complete_payload_is_read_into_the_same_event():
    headers, body = signed(LEGACY_COMPLETE)

    event = verify_webhook(SECRET, headers, body, now=NOW)

    assert event.event_type == EVENT_SYNC_SUCCESSFUL
    assert event.source_type == "Sync Completed"
    assert event.legacy is True
    assert event.company_id == COMPANY_ID
    assert event.sync_id == SYNC_ID
    assert event.occurred_at == NOW


def test_the_legacy_sync_failed_payload_is_read_with_its_failure_stage():
    headers, body = signed(LEGACY_FAILED)

    event = verify_webhook(SECRET, headers, body, now=NOW)

    assert event.event_type == EVENT_SYNC_UNSUCCESSFUL
    assert event.succeeded is False
    assert event.sync_status == "Pushing"
    assert event.sync_id == SYNC_ID


def test_a_webhook_signed_with_another_secret_is_rejected():
    headers, body = signed(CURRENT, secret=OTHER_SECRET)

    with pytest.raises(WebhookVerificationError, match="signature"):
        verify_webhook(SECRET, headers, body, now=NOW)


def test_a_tampered_body_is_rejected():
    headers, body = signed(CURRENT)
    tampered = body.replace(b"Insufficient funds", b"All fine!!!!!!!!!!")

    with pytest.raises(WebhookVerificationError, match="signature"):
        verify_webhook(SECRET, headers, tampered, now=NOW)


def test_a_changed_message_id_is_rejected():
    headers, body = signed(CURRENT)
    headers["webhook-id"] = "msg_other"

    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, headers, body, now=NOW)


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_timestamp_outside_five_minutes_is_rejected(offset):
    headers, body = signed(CURRENT, at=NOW + offset)

    with pytest.raises(WebhookVerificationError, match="timestamp"):
        verify_webhook(SECRET, headers, body, now=NOW)


def test_a_timestamp_within_five_minutes_is_accepted():
    headers, body = signed(CURRENT, at=NOW - timedelta(minutes=4, seconds=59))

    assert verify_webhook(SECRET, headers, body, now=NOW).sync_id == SYNC_ID


def test_a_stale_webhook_is_rejected_by_the_real_clock_by_default():
    headers, body = signed(CURRENT, at=datetime.now(UTC) - timedelta(hours=1))

    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(SECRET, headers, body)


def test_a_fresh_webhook_is_accepted_by_the_real_clock_by_default():
    headers, body = signed(CURRENT, at=datetime.now(UTC))

    assert verify_webhook(SECRET, headers, body).sync_id == SYNC_ID


@pytest.mark.parametrize("missing", ["id", "timestamp", "signature"])
def test_missing_headers_are_rejected(missing):
    headers, body = signed(CURRENT)
    del headers[f"webhook-{missing}"]

    with pytest.raises(WebhookVerificationError, match=missing):
        verify_webhook(SECRET, headers, body, now=NOW)


def test_a_signature_list_with_one_matching_entry_is_accepted():
    headers, body = signed(CURRENT)
    headers["webhook-signature"] = f"v1,bm9wZQ== v2,junk garbage {headers['webhook-signature']}"

    assert verify_webhook(SECRET, headers, body, now=NOW).webhook_id == MSG_ID


def test_a_non_numeric_timestamp_is_rejected():
    headers, body = signed(CURRENT)
    headers["webhook-timestamp"] = "yesterday"

    with pytest.raises(WebhookVerificationError, match="timestamp"):
        verify_webhook(SECRET, headers, body, now=NOW)


def test_a_signed_body_that_is_not_a_sync_webhook_is_a_payload_error():
    headers, body = signed(["not", "an", "object"])

    with pytest.raises(WebhookPayloadError):
        verify_webhook(SECRET, headers, body, now=NOW)


def test_a_secret_that_is_not_a_svix_secret_is_a_configuration_error():
    headers, body = signed(CURRENT)

    with pytest.raises(ValueError, match="secret"):
        verify_webhook("whsec_!!!not-base64!!!", headers, body, now=NOW)


def test_an_event_type_the_portal_does_not_handle_is_returned_without_an_outcome():
    headers, body = signed(
        {
            "id": "x",
            "eventType": "read.completed",
            "payload": {"dataTypes": []},
            "generatedDate": "2026-03-01T11:59:00Z",
        }
    )

    event = verify_webhook(SECRET, headers, body, now=NOW)

    assert event.event_type == "read.completed"
    assert event.succeeded is None
