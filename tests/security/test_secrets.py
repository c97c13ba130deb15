"""The Codat API key and the webhook signing secret never show: a real push against the sandbox
over HTTP, with a webhook delivered and verified, runs with recognisable values; then the logs,
stdout/stderr, every CodatExchange row, every admin page and the error pages are searched."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path, reverse

from gateway.exchanges import codat_client
from gateway.models import CodatExchange
from sandbox.models import DeliveryStatus, SandboxWebhookDelivery
from syncs.claim import company_push_claim
from syncs.models import Sync, SyncState, WebhookEvent
from syncs.send import sync_send
from tests.factories import StaffFactory
from tests.integration.sandbox_company import control, onboard
from tests.integration.test_push_pipeline import _approved

pytestmark = pytest.mark.django_db(transaction=True)

CANARY_KEY = "canary-codat-key-5f1e9c2a7b3d"
_SECRET_BYTES = b"canary-webhook-secret-8d4e61"
CANARY_SECRET = "whsec_" + base64.b64encode(_SECRET_BYTES).decode()
NEEDLES = {
    "API key": CANARY_KEY,
    "API key as sent (Basic)": base64.b64encode(CANARY_KEY.encode()).decode(),
    "webhook secret": CANARY_SECRET,
    "webhook secret body": CANARY_SECRET.removeprefix("whsec_"),
    "webhook secret bytes": _SECRET_BYTES.decode(),
}


def _exploding_view(request: HttpRequest) -> HttpResponse:
    """A page whose Codat call fails: the client's frames are on the traceback."""
    codat_client().delete_company("00000000-0000-0000-0000-000000000000")
    return HttpResponse("unreachable")


urlpatterns = [
    path("explode/", _exploding_view),
    path("", include("sfe_portal.urls")),
]


def _leaks(text: str) -> list[str]:
    return [name for name, needle in NEEDLES.items() if needle in text]


@pytest.fixture
def canaries(live_server, settings):
    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    settings.CODAT_API_KEY = CANARY_KEY
    settings.CODAT_WEBHOOK_SECRET = CANARY_SECRET
    control("PUT", "settings", {"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/"})
    return live_server


def _push_with_a_delivered_webhook(live_server) -> Sync:
    from sandbox.tasks import Dispatch

    books = onboard("gbol")
    _approved(books, 2)
    # The sandbox signs with the portal's secret when none is set on it, as Codat would.
    control("PUT", "settings", {"webhook_url": live_server.url + reverse("codat-webhook")})
    Dispatch.enabled = False
    try:
        sync = sync_send(sync=company_push_claim(company=books.company).sync)
        control("POST", "process")  # runs the sync; its webhook is due
        control("POST", "process")  # delivers it to the portal, which verifies it
    finally:
        Dispatch.enabled = True
    # The poll the webhook asked for runs after commit in the server's thread: wait for it
    # (and for the delivery's bookkeeping) so nothing is still writing when the test reads.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (
            Sync.objects.filter(pk=sync.pk, state=SyncState.SUCCEEDED).exists()
            and WebhookEvent.objects.filter(processed_at__isnull=False).exists()
            and not SandboxWebhookDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()
        ):
            break
        time.sleep(0.1)
    return Sync.objects.get(pk=sync.pk)


def test_a_push_leaves_the_key_and_secret_out_of_logs_exchanges_and_admin(canaries, caplog, capfd):
    caplog.set_level(logging.DEBUG)

    sync = _push_with_a_delivered_webhook(canaries)

    assert sync.state == SyncState.SUCCEEDED
    assert WebhookEvent.objects.get().verified  # the secret was used, really
    assert CodatExchange.objects.count() > 5
    problems = []
    for record in caplog.records:
        text = record.getMessage() + (str(record.exc_info) if record.exc_info else "")
        problems += [f"log {record.name}: {leak}" for leak in _leaks(text)]
    out, err = capfd.readouterr()
    problems += [f"stdout: {leak}" for leak in _leaks(out)]
    problems += [f"stderr: {leak}" for leak in _leaks(err)]
    for exchange in CodatExchange.objects.all():
        row = " ".join(
            str(getattr(exchange, f.attname)) for f in CodatExchange._meta.concrete_fields
        )
        problems += [f"exchange {exchange.pk}: {leak}" for leak in _leaks(row)]
    assert problems == []


def test_no_admin_page_shows_the_key_or_the_secret(canaries):
    _push_with_a_delivered_webhook(canaries)
    client = Client()
    client.force_login(StaffFactory(is_superuser=True))
    problems = []
    pages = 0
    for model in list(admin.site._registry):
        info = (model._meta.app_label, model._meta.model_name)
        urls = [reverse("admin:{}_{}_changelist".format(*info))]
        urls += [
            # quote() as the admin's own links do: a webhook id like "msg_23…" would otherwise
            # read back as "msg#…" (the admin's escape for "#") and find nothing.
            reverse("admin:{}_{}_change".format(*info), args=[quote(pk)])
            for pk in model._default_manager.values_list("pk", flat=True)[:3]
        ]
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            pages += 1
            problems += [f"{url}: {leak}" for leak in _leaks(response.content.decode())]

    assert pages > 40
    assert problems == []


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("debug", [False, True])
def test_an_error_page_does_not_show_the_key_or_the_secret(settings, debug, caplog):
    settings.CODAT_BASE_URL = "http://127.0.0.1:9/codat"  # nothing listens: the call fails
    settings.CODAT_API_KEY = CANARY_KEY
    settings.CODAT_WEBHOOK_SECRET = CANARY_SECRET
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    client.force_login(StaffFactory())

    response = client.get("/explode/")

    assert response.status_code == 500
    body = response.content.decode()
    if debug:  # the technical page, with every frame's variables and the settings
        assert "CodatUnavailableError" in body
    assert _leaks(body) == []
    logged = "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    assert "CodatUnavailableError" in logged
    assert _leaks(logged) == []


def test_the_needles_would_be_found(canaries):
    """The search itself works: the raw header value is what the needles look for."""
    client = codat_client()
    assert _leaks(client._authorization) == ["API key as sent (Basic)"]
    assert isinstance(CodatExchange._meta.get_field("request_body"), models.TextField)


def test_the_console_log_redacts_a_message_that_carries_a_secret(settings, capfd):
    """The console handler's filter is the last line: a library logging a header is cut."""
    import logging.config

    settings.CODAT_API_KEY = CANARY_KEY
    settings.CODAT_WEBHOOK_SECRET = CANARY_SECRET
    logging.config.dictConfig(settings.LOGGING)  # the handler writes to the captured stderr
    logger = logging.getLogger("urllib3.connectionpool")

    logger.warning(
        "sent headers %s", {"Authorization": "Basic " + NEEDLES["API key as sent (Basic)"]}
    )
    try:
        raise ValueError(f"bad secret {CANARY_SECRET}")
    except ValueError:
        logger.exception("verifying with %s failed", CANARY_SECRET)

    err = capfd.readouterr().err
    assert "sent headers" in err
    assert "ValueError: bad secret [redacted]" in err
    assert _leaks(err) == []


def test_an_exchange_echoing_the_secret_is_stored_redacted(settings):
    from codat import Exchange
    from gateway.exchanges import exchange_record

    settings.CODAT_API_KEY = CANARY_KEY
    settings.CODAT_WEBHOOK_SECRET = CANARY_SECRET

    row = exchange_record(
        company_id=None,
        exchange=Exchange(
            method="GET",
            path="/_sandbox/settings",
            query=f"key={CANARY_KEY}",
            status=200,
            duration_ms=3,
            correlation_id=None,
            request_body=None,
            response_body=f'{{"webhook_secret": "{CANARY_SECRET}"}}',
            error=None,
            attempt=1,
        ),
    )

    row.refresh_from_db()
    assert row.response_body == '{"webhook_secret": "[redacted]"}'
    assert row.path == "/_sandbox/settings?key=[redacted]"
