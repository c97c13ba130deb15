"""Sync-finished webhooks: the ExpensesSyncWebhook shape, Svix signatures, bounded retries."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.utils import timezone
from svix.webhooks import Webhook, WebhookVerificationError

from sandbox.models import DeliveryStatus, SandboxSettings, SandboxWebhookDelivery
from sandbox.webhooks import BACKOFF_S, deliver_due_webhooks, webhook_deliver
from tests.sandbox.conftest import Api, finish, link_company, payment, push

SECRET = "whsec_" + "dGVzdC13ZWJob29rLXNlY3JldC1rZXktMzItYnl0ZXM="


class Receiver:
    """A real HTTP endpoint on loopback that records what it is sent."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/codat/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _sync_and_deliver(api: Api, linked: Any, items: list[dict[str, Any]], capture: Any) -> str:
    """Run a sync to its end and let the after-commit delivery task run, as a worker would."""
    sync_id = push(api, linked, items)
    with capture(execute=True):
        finish(api, linked, sync_id)
    return sync_id


@pytest.fixture
def receiver(api: Api) -> Iterator[Receiver]:
    endpoint = Receiver()
    api.put("/_sandbox/settings", {"webhook_url": endpoint.url, "webhook_secret": SECRET})
    yield endpoint
    endpoint.server.shutdown()


def _verify(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    Webhook(SECRET).verify(body, headers)  # raises unless signature and timestamp hold
    return dict(json.loads(body))


def test_a_successful_sync_sends_a_signed_successful_event(
    api: Api, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    linked = link_company(api, "gbol")
    tx_id = str(uuid.uuid4())
    sync_id = _sync_and_deliver(
        api, linked, [payment(linked, tx_id)], django_capture_on_commit_callbacks
    )

    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    event = _verify(headers, body)
    assert headers["webhook-id"].startswith("msg_")
    assert event["eventType"] == "expenses.sync.successful"
    assert uuid.UUID(event["id"])
    assert event["payload"]["syncId"] == sync_id
    assert event["payload"]["referenceCompany"]["id"] == linked.company_id
    assert event["payload"]["transactions"] == [
        {"id": tx_id, "status": "Completed", "errorMessage": None}
    ]
    delivery = SandboxWebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_failed_sync_sends_an_unsuccessful_event(
    api: Api, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    linked = link_company(api, "qhyg")
    item = payment(linked, str(uuid.uuid4()))
    item["lines"][0]["accountRef"] = {"id": "0"}
    _sync_and_deliver(api, linked, [item], django_capture_on_commit_callbacks)

    event = _verify(*receiver.received[0])

    assert event["eventType"] == "expenses.sync.unsuccessful"
    [tx] = event["payload"]["transactions"]
    assert tx["status"] == "Failed"
    assert tx["errorMessage"] == "Account 0 does not exist in QuickBooks Online."


def test_a_signature_made_with_another_secret_does_not_verify(
    api: Api, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    linked = link_company(api, "gbol")
    _sync_and_deliver(
        api, linked, [payment(linked, str(uuid.uuid4()))], django_capture_on_commit_callbacks
    )
    headers, body = receiver.received[0]

    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC0xMjM0NTY=").verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"successful", b"unsuccessful"), headers)


def test_a_failing_endpoint_is_retried_with_backoff_then_given_up(
    api: Api, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = Receiver(status=503)
    api.put("/_sandbox/settings", {"webhook_url": endpoint.url, "webhook_secret": SECRET})
    linked = link_company(api, "gbol")
    _sync_and_deliver(
        api, linked, [payment(linked, str(uuid.uuid4()))], django_capture_on_commit_callbacks
    )
    delivery = SandboxWebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 503)

    now = delivery.next_attempt_at
    assert deliver_due_webhooks(now=now - timedelta(seconds=1)) == 0
    for wait in BACKOFF_S[1:]:
        assert deliver_due_webhooks(now=now) == 1
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == now + timedelta(seconds=wait)
        now = delivery.next_attempt_at
    assert deliver_due_webhooks(now=now) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == len(BACKOFF_S) + 1
    assert deliver_due_webhooks(now=now + timedelta(days=1)) == 0
    # Every attempt carried the same webhook-id, so the receiver can de-duplicate.
    assert {h["webhook-id"] for h, _ in endpoint.received} == {delivery.id}
    assert len(endpoint.received) == len(BACKOFF_S) + 1
    assert [h["statusCode"] for h in delivery.history] == [503] * (len(BACKOFF_S) + 1)
    endpoint.server.shutdown()


def test_a_refused_connection_is_recorded_not_raised(
    api: Api, django_capture_on_commit_callbacks: Any
) -> None:
    linked = link_company(api, "gbol")
    _sync_and_deliver(
        api, linked, [payment(linked, str(uuid.uuid4()))], django_capture_on_commit_callbacks
    )
    delivery = SandboxWebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert "ConnectionError" in delivery.last_error


def test_a_recovering_endpoint_gets_the_event_on_retry(
    api: Api, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = Receiver(status=500)
    api.put("/_sandbox/settings", {"webhook_url": endpoint.url, "webhook_secret": SECRET})
    linked = link_company(api, "trji")
    _sync_and_deliver(
        api, linked, [payment(linked, str(uuid.uuid4()))], django_capture_on_commit_callbacks
    )
    endpoint.status = 204
    delivery = SandboxWebhookDelivery.objects.get()

    again = webhook_deliver(delivery_id=delivery.id, now=delivery.next_attempt_at)

    assert again is not None
    assert again.status == "delivered"
    assert json.loads(endpoint.received[-1][1])["eventType"] == "expenses.sync.successful"
    endpoint.server.shutdown()


def test_the_default_target_is_the_portals_endpoint_with_the_settings_secret(
    api: Api, settings: Any
) -> None:
    SandboxSettings.objects.filter(pk=1).update(webhook_url="", webhook_secret="")
    from sandbox.webhooks import DEFAULT_WEBHOOK_URL, current_settings, webhook_target

    assert webhook_target(current_settings()) == (
        DEFAULT_WEBHOOK_URL,
        settings.CODAT_WEBHOOK_SECRET,
    )
    assert timezone.now()
