"""The Codat webhook endpoint: only correctly signed, fresh deliveries are recorded, each
webhook id once, and nothing is stored for anything else."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from svix.webhooks import Webhook

from syncs.models import SyncState, WebhookEvent
from tests.factories import SyncFactory

pytestmark = pytest.mark.django_db

OTHER_SECRET = "whsec_b3RoZXItc2VjcmV0LW5vdC1jb2RhdHM="


def _payload(sync_id: object = None, company_id: object = None) -> bytes:
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "eventType": "expenses.sync.successful",
            "generatedDate": "2026-11-23T10:00:00.000Z",
            "payload": {
                "referenceCompany": {"id": str(company_id or uuid.uuid4()), "name": "Harbour"},
                "syncId": str(sync_id or uuid.uuid4()),
                "transactions": [],
            },
        }
    ).encode()


def _signed(
    body: bytes,
    *,
    secret: str,
    msg_id: str | None = None,
    when: datetime | None = None,
    prefix: str = "webhook",
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {
        f"{prefix}-id": msg_id,
        f"{prefix}-timestamp": str(int(when.timestamp())),
        f"{prefix}-signature": signature,
    }


def _post(client, body: bytes, headers: dict[str, str]):
    return client.post(
        reverse("codat-webhook"), data=body, content_type="application/json", headers=headers
    )


@pytest.mark.parametrize("prefix", ["webhook", "svix"])
def test_a_signed_webhook_is_recorded_verified_with_its_ids(client, settings, prefix):
    company_id, sync_id = uuid.uuid4(), uuid.uuid4()
    body = _payload(sync_id, company_id)
    headers = _signed(body, secret=settings.CODAT_WEBHOOK_SECRET, prefix=prefix)

    response = _post(client, body, headers)

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.webhook_id == headers[f"{prefix}-id"]
    assert event.verified
    assert event.event_type == "expenses.sync.successful"
    assert (event.codat_company_id, event.codat_sync_id) == (company_id, sync_id)
    assert event.processed_at is not None
    assert event.payload == json.loads(body)


def test_a_webhook_for_a_sync_we_do_not_know_is_recorded_and_answered_200(client, settings):
    body = _payload()

    response = _post(client, body, _signed(body, secret=settings.CODAT_WEBHOOK_SECRET))

    assert response.status_code == 200
    assert response.json()["pollRequested"] is False
    event = WebhookEvent.objects.get()
    assert "No sync of ours" in event.error
    assert event.processed_at is not None


def test_a_webhook_for_a_sync_in_progress_asks_for_a_poll_after_commit(
    client, settings, django_capture_on_commit_callbacks
):
    sync = SyncFactory(state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4())
    body = _payload(sync.codat_sync_id, sync.company.codat_company_id)

    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(client, body, _signed(body, secret=settings.CODAT_WEBHOOK_SECRET))

    assert response.status_code == 200
    assert response.json()["pollRequested"] is True
    assert len(callbacks) == 1
    assert WebhookEvent.objects.get().error == ""


def test_a_replayed_webhook_id_is_answered_200_and_recorded_once(
    client, settings, django_capture_on_commit_callbacks
):
    sync = SyncFactory(state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4())
    body = _payload(sync.codat_sync_id)
    headers = _signed(body, secret=settings.CODAT_WEBHOOK_SECRET)
    with django_capture_on_commit_callbacks():
        _post(client, body, headers)

    with django_capture_on_commit_callbacks() as callbacks:
        replay = _post(client, body, headers)

    assert replay.status_code == 200
    assert replay.json()["duplicate"] is True
    assert callbacks == []  # no second poll
    assert WebhookEvent.objects.count() == 1


def test_a_forged_signature_is_refused_and_nothing_is_recorded(client, settings):
    body = _payload()
    headers = _signed(body, secret=settings.CODAT_WEBHOOK_SECRET)
    tampered = body.replace(b"expenses.sync.successful", b"expenses.sync.unsuccessful")

    response = _post(client, tampered, headers)

    assert response.status_code == 401
    assert response.json() == {"error": "webhook signature does not match"}
    assert not WebhookEvent.objects.exists()


def test_a_webhook_signed_with_another_secret_is_refused(client):
    body = _payload()

    response = _post(client, body, _signed(body, secret=OTHER_SECRET))

    assert response.status_code == 401
    assert "signature" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_a_stale_webhook_is_refused_even_when_correctly_signed(client, settings):
    body = _payload()
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)

    response = _post(
        client, body, _signed(body, secret=settings.CODAT_WEBHOOK_SECRET, when=ten_minutes_ago)
    )

    assert response.status_code == 401
    assert response.json() == {"error": "webhook timestamp is too old"}
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("missing", ["id", "timestamp", "signature"])
def test_a_webhook_without_its_signature_headers_is_refused(client, settings, missing):
    body = _payload()
    headers = _signed(body, secret=settings.CODAT_WEBHOOK_SECRET)
    del headers[f"webhook-{missing}"]

    response = _post(client, body, headers)

    assert response.status_code == 401
    assert f"missing webhook-{missing}" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_a_correctly_signed_body_that_is_not_json_is_a_bad_request(client, settings):
    body = b"{not json"

    response = _post(client, body, _signed(body, secret=settings.CODAT_WEBHOOK_SECRET))

    assert response.status_code == 400
    assert response.json() == {"error": "webhook body is not JSON"}
    assert not WebhookEvent.objects.exists()


def test_the_endpoint_takes_only_post(client):
    assert client.get(reverse("codat-webhook")).status_code == 405
