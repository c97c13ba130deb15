"""Error tracking: what reaches Sentry, read off the wire by a DSN receiver on loopback."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import sentry_sdk
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from sfe_portal import urls as portal_urls
from sfe_portal.error_tracking import error_tracking_init, git_commit, scrub_event
from tests.factories import UserFactory

CODAT_KEY = "codat-live-key-7Hq2xZ9pLm4Rt8Wv"
WEBHOOK_RAW = "sfe-test-webhook-signing-secret-5566"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_RAW.encode()).decode()
INGEST_KEY = "sfe_" + "Zk3pQ9vX2mL7rT4wY8nB1cF6hJ0dS5gA-uE_iO3aKqW"
CSRF_TOKEN = "Qm8vT2xL9pZ4rW7yK1nB6cF3hJ0dS5gA"  # the form Django accepts


@login_not_required
def _boom(request: HttpRequest) -> HttpResponse:
    codat_key = CODAT_KEY  # a frame variable holding the key
    raise RuntimeError(
        f"Codat refused {codat_key} (signed with {WEBHOOK_SECRET}) for "
        f"{request.headers.get('Authorization')}"
    )


urlpatterns = [path("boom", _boom), *portal_urls.urlpatterns]


class _Receiver(BaseHTTPRequestHandler):
    envelopes: list[bytes]
    raw: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.raw.append(body)
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.envelopes.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _items(envelope: bytes) -> list[tuple[dict, bytes]]:
    """The (header, payload) items of a Sentry envelope."""
    lines = envelope.split(b"\n", 1)[1]
    items = []
    while lines.strip():
        header_line, rest = lines.split(b"\n", 1)
        header = json.loads(header_line)
        if "length" in header:
            payload, lines = rest[: header["length"]], rest[header["length"] + 1 :]
        else:
            payload, _, lines = rest.partition(b"\n")
        items.append((header, payload))
    return items


@pytest.fixture
def sentry(settings):
    """Sentry started in this process against a receiver on loopback, and stopped after."""
    settings.ROOT_URLCONF = __name__
    settings.CODAT_API_KEY = CODAT_KEY
    settings.CODAT_WEBHOOK_SECRET = WEBHOOK_SECRET
    envelopes: list[bytes] = []
    raw: list[bytes] = []
    handler = type("Receiver", (_Receiver,), {"envelopes": envelopes, "raw": raw})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    previous = sentry_sdk.get_client()
    error_tracking_init(
        dsn=f"http://public@127.0.0.1:{server.server_port}/1",
        environment="test",
        release="test-release",
        traces_sample_rate=1.0,
    )

    def received() -> list[tuple[dict, bytes]]:
        sentry_sdk.flush(timeout=10)
        return [item for envelope in envelopes for item in _items(envelope)]

    received.raw = raw  # type: ignore[attr-defined]
    try:
        yield received
    finally:
        sentry_sdk.get_client().close(timeout=5)
        sentry_sdk.get_global_scope().set_client(previous if previous.is_active() else None)
        server.shutdown()
        server.server_close()


@pytest.mark.django_db(transaction=True)
def test_an_error_reaches_sentry_without_a_secret_in_it(sentry, live_server, client):
    user = UserFactory()
    client.force_login(user)
    session_key = client.cookies["sessionid"].value

    response = requests.post(
        f"{live_server.url}/boom?api_key={CODAT_KEY}",
        data={"csrfmiddlewaretoken": CSRF_TOKEN, "codat_key": CODAT_KEY, "note": "lunch"},
        headers={
            "Authorization": f"Bearer {INGEST_KEY}",
            "X-CSRFToken": CSRF_TOKEN,
            "Cookie": f"sessionid={session_key}; csrftoken={CSRF_TOKEN}",
        },
        timeout=30,
    )
    items = sentry()

    assert response.status_code == 500
    events = [json.loads(payload) for header, payload in items if header["type"] == "event"]
    [event] = [e for e in events if e.get("exception")]
    [error] = event["exception"]["values"]
    assert error["type"] == "RuntimeError"
    assert error["value"].startswith("Codat refused [redacted]")
    assert event["environment"] == "test"
    assert event["release"] == "test-release"
    assert event["request"]["url"].endswith("/boom")
    secrets = [
        CODAT_KEY,
        base64.b64encode(CODAT_KEY.encode()).decode(),
        WEBHOOK_SECRET,
        WEBHOOK_SECRET.removeprefix("whsec_"),
        WEBHOOK_RAW,
        INGEST_KEY,
        CSRF_TOKEN,
        session_key,
    ]
    wire = b"".join(payload for _, payload in items)
    for secret in secrets:
        assert secret.encode() not in wire, secret
        assert all(secret.encode() not in body for body in sentry.raw), secret


@pytest.mark.django_db(transaction=True)
def test_health_probes_are_never_traced(sentry, live_server):
    for probe in ("/readyz", "/healthz"):
        assert requests.get(live_server.url + probe, timeout=30).status_code == 200
    probes = [
        json.loads(payload) for header, payload in sentry() if header["type"] == "transaction"
    ]
    requests.get(live_server.url + "/accounts/login/", timeout=30)
    pages = [
        json.loads(payload)["transaction"]
        for header, payload in sentry()
        if header["type"] == "transaction"
    ]

    assert probes == []
    assert pages == ["/accounts/login/"]


def test_a_secret_under_any_name_or_in_any_string_is_scrubbed(settings):
    settings.CODAT_API_KEY = CODAT_KEY
    event = {
        "request": {
            "headers": [["Authorization", "Basic abc"], ["Accept", "text/html"]],
            "cookies": {"sessionid": "s" * 32},
            "data": {"csrfmiddlewaretoken": CSRF_TOKEN, "note": f"key {CODAT_KEY}"},
        },
        "extra": {"headers": {"X-CSRFToken": CSRF_TOKEN}, "line": f"Bearer {INGEST_KEY}"},
        "breadcrumbs": {"values": [{"message": f"sent {INGEST_KEY}", "data": {"ok": 1}}]},
    }

    scrubbed = json.dumps(scrub_event(event, {}))

    for secret in (CODAT_KEY, CSRF_TOKEN, INGEST_KEY, "s" * 32, "Basic abc"):
        assert secret not in scrubbed
    assert '"Accept", "text/html"' in scrubbed
    assert '"ok": 1' in scrubbed


def test_the_release_is_the_checked_out_commit(tmp_path):
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("a" * 40 + "\n")

    assert git_commit(tmp_path) == "a" * 40
    assert git_commit(tmp_path / "nowhere") is None


def test_the_csp_names_its_report_endpoint_only_when_one_is_set(client, settings):
    bare = client.get("/accounts/login/")
    settings.CSP_REPORT_URI = "https://o1.ingest.example/api/1/security/?sentry_key=public"
    reporting = client.get("/accounts/login/")

    assert "report-uri" not in bare["Content-Security-Policy"]
    assert "Reporting-Endpoints" not in bare
    csp = reporting["Content-Security-Policy"]
    assert f"report-uri {settings.CSP_REPORT_URI}; report-to csp" in csp
    assert reporting["Reporting-Endpoints"] == f'csp="{settings.CSP_REPORT_URI}"'
