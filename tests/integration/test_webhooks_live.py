"""Webhooks against the sandbox: a signed webhook makes the portal poll the sync (which then
reaches its end), and the sandbox's own delivery reaches the portal's endpoint and is kept."""

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from django.urls import reverse
from svix.webhooks import Webhook

from syncs.claim import company_push_claim
from syncs.models import Sync, SyncState, WebhookEvent
from syncs.send import sync_send
from tests.integration.sandbox_company import control, onboard
from tests.integration.test_push_pipeline import _approved

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(live_server, settings):
    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    # Deliveries go nowhere unless a test points them at the portal.
    control("PUT", "settings", {"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/"})
    return live_server


def _signed_post(url: str, body: bytes, secret: str) -> requests.Response:
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    return requests.post(
        url,
        data=body,
        headers={
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
        },
        timeout=30,
    )


def test_a_webhook_makes_the_portal_poll_its_sync_to_the_end(sandbox, settings):
    books = onboard("gbol")
    _approved(books, 2)
    sync = sync_send(sync=company_push_claim(company=books.company).sync)
    assert (sync.state, sync.poll_count) == (SyncState.IN_PROGRESS, 0)
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "eventType": "expenses.sync.successful",
            "generatedDate": "2026-11-23T10:00:00.000Z",
            "payload": {
                "referenceCompany": {"id": str(books.company.codat_company_id)},
                "syncId": str(sync.codat_sync_id),
            },
        }
    ).encode()

    response = _signed_post(
        sandbox.url + reverse("codat-webhook"), body, settings.CODAT_WEBHOOK_SECRET
    )

    assert response.status_code == 200, response.text
    assert response.json()["pollRequested"] is True
    # Eager Celery ran the poll after the webhook's commit, before the answer was sent.
    sync.refresh_from_db()
    assert sync.poll_count >= 1
    assert (sync.state, sync.status_code) == (SyncState.SUCCEEDED, 2000)
    event = WebhookEvent.objects.get()
    assert event.codat_sync_id == sync.codat_sync_id
    assert event.processed_at is not None


def test_the_sandbox_delivers_its_webhook_to_the_portal_endpoint(sandbox, settings):
    from sandbox.tasks import Dispatch

    books = onboard("gbol")
    _approved(books, 1)
    control(
        "PUT",
        "settings",
        {
            "webhook_url": sandbox.url + reverse("codat-webhook"),
            "webhook_secret": settings.CODAT_WEBHOOK_SECRET,
        },
    )
    # The sandbox's deliveries wait for `_sandbox/process`, as they would without a worker.
    Dispatch.enabled = False
    try:
        sync = sync_send(sync=company_push_claim(company=books.company).sync)
        control("POST", "process")  # runs the sync; its webhook is now due
        control("POST", "process")  # delivers it
    finally:
        Dispatch.enabled = True

    # The endpoint records the event, then its poll runs after commit in the server's thread.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if Sync.objects.filter(pk=sync.pk, state=SyncState.SUCCEEDED).exists():
            break
        time.sleep(0.1)
    event = WebhookEvent.objects.get()
    assert event.verified
    assert event.event_type == "expenses.sync.successful"
    assert event.codat_sync_id == sync.codat_sync_id
    assert str(event.codat_company_id) == str(books.company.codat_company_id)
    assert event.processed_at is not None
    # The poll it asked for settled the sync.
    assert Sync.objects.get(pk=sync.pk).state == SyncState.SUCCEEDED
