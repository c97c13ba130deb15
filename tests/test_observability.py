"""Log lines, request ids, the content security policy and readiness, in-process."""

import json
import logging
import socket
import sys

import pytest
from django.urls import reverse

from sfe_portal.celery import app as celery_app
from sfe_portal.logs import (
    ContextFilter,
    JsonFormatter,
    ReadableFormatter,
    RedactFilter,
    log_context,
    log_context_scope,
    redact,
)


def _record(message, *args, **extra):
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("headers {'Authorization': 'Basic c2FuZGJveC1hcGkta2V5'}", "c2FuZGJveC1hcGkta2V5"),
        ("Authorization: Bearer sfe_abcdefghijklmnop", "sfe_abcdefghijklmnop"),
        ("CODAT_API_KEY=live-key-123456", "live-key-123456"),
        ('{"client_secret": "s3cr3t-value"}', "s3cr3t-value"),
        ("secret whsec_c2ZlLXBvcnRhbA== in a message", "c2ZlLXBvcnRhbA=="),
        ("password=hunter2hunter2", "hunter2hunter2"),
    ],
)
def test_secrets_are_redacted_from_messages(text, secret):
    record = _record("sending %s", text)

    RedactFilter().filter(record)

    assert secret not in record.getMessage()
    assert "[redacted]" in record.getMessage()
    assert redact("expense 3f2a paid at Harbour Coffee") == "expense 3f2a paid at Harbour Coffee"


def test_a_json_line_carries_the_context_and_the_call_s_own_fields():
    record = _record("Expense %s synced", "e-1", expense_id="e-1")
    with log_context_scope(request_id="r-1", company_id=7, task_id="t-1"):
        ContextFilter().filter(record)

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "Expense e-1 synced"
    assert line["request_id"] == "r-1"
    assert line["company_id"] == 7
    assert line["task_id"] == "t-1"
    assert line["expense_id"] == "e-1"
    assert line["level"] == "INFO"


def test_a_readable_line_appends_the_context():
    record = _record("pushed", sync_id=4, expense_ids=["a", "b"])

    text = ReadableFormatter().format(record)

    assert text.endswith("pushed [expense_ids=a,b sync_id=4]")


def test_an_exception_is_logged_without_the_secret_in_it():
    try:
        raise RuntimeError("refused api_key=abc123secret")
    except RuntimeError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "boom", None, None)
        record.exc_info = sys.exc_info()
    RedactFilter().filter(record)

    line = json.loads(JsonFormatter().format(record))

    assert "abc123secret" not in line["exception"]
    assert "RuntimeError" in line["exception"]


def test_the_request_id_is_echoed_or_made(client):
    given = client.get(reverse("healthz"), headers={"X-Request-ID": "lb-7f3a.9"})
    made = client.get(reverse("healthz"))
    refused = client.get(reverse("healthz"), headers={"X-Request-ID": "bad id\nInjected: 1"})

    assert given["X-Request-ID"] == "lb-7f3a.9"
    assert len(made["X-Request-ID"]) == 32
    assert refused["X-Request-ID"] != "bad id\nInjected: 1"
    assert len(refused["X-Request-ID"]) == 32


def test_every_page_carries_the_content_security_policy(client):
    response = client.get(reverse("login"))

    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp
    assert "unsafe" not in csp
    assert "<script>" not in response.content.decode()
    assert '"allowEval": false' in response.content.decode()


@pytest.mark.django_db
def test_readyz_checks_database_broker_and_storage(client):
    response = client.get(reverse("readyz"))

    assert response.status_code == 200
    body = response.json()
    assert set(body["checks"]) == {"database", "broker", "storage"}  # the sandbox is on
    assert body["reasons"] == []


class _Seconds:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def probe_clock(monkeypatch):
    from sfe_portal import health

    seconds = _Seconds()
    monkeypatch.setattr(health, "clock", seconds)
    health.codat_status.clear()
    yield seconds
    health.codat_status.clear()


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_readyz_stays_ready_when_codat_cannot_be_reached_and_says_so(client, settings, probe_clock):
    closed = _closed_port()
    settings.SANDBOX_ENABLED = False
    settings.CODAT_BASE_URL = f"http://127.0.0.1:{closed}"

    response = client.get(reverse("readyz"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["reasons"] == []
    [warning] = body["warnings"]
    assert warning.startswith(f"codat: cannot reach Codat at http://127.0.0.1:{closed}")
    assert body["checks"]["codat"]["ok"] is False
    assert body["checks"]["codat"]["informational"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("failing", ["database", "broker", "storage"])
def test_readyz_fails_naming_the_dependency_a_request_needs(
    client, settings, monkeypatch, probe_clock, failing
):
    from sfe_portal import health

    def down(timeout):
        raise RuntimeError("it is down")

    monkeypatch.setattr(health, f"check_{failing}", down)
    monkeypatch.setattr(health, "check_codat", lambda timeout: None)
    settings.SANDBOX_ENABLED = False

    response = client.get(reverse("readyz"))

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["reasons"] == [f"{failing}: it is down"]
    assert body["checks"][failing]["ok"] is False
    assert body["checks"]["codat"]["ok"] is True
    assert all(body["checks"][name]["ok"] for name in {"database", "broker", "storage"} - {failing})


@pytest.mark.django_db
def test_readyz_asks_codat_again_only_once_its_last_answer_is_a_minute_old(
    client, settings, monkeypatch, probe_clock
):
    from sfe_portal import health

    calls = []

    def codat_down(timeout):
        calls.append(timeout)
        raise RuntimeError("Codat answered 503")

    monkeypatch.setattr(health, "check_codat", codat_down)
    settings.SANDBOX_ENABLED = False

    first = client.get(reverse("readyz")).json()
    probe_clock.now += 59
    within = client.get(reverse("readyz")).json()
    probe_clock.now += 2
    after = client.get(reverse("readyz")).json()

    assert len(calls) == 2
    assert 0 < calls[0] <= health.CHECK_CAP_S
    assert first["checks"]["codat"]["age_s"] == 0
    assert within["checks"]["codat"]["age_s"] == 59
    assert within["warnings"] == ["codat: Codat answered 503"]
    assert after["checks"]["codat"]["age_s"] == 0


@pytest.mark.django_db
def test_readyz_answers_within_its_budget_naming_what_it_had_no_time_for(
    client, settings, monkeypatch, probe_clock
):
    from sfe_portal import health

    given = {}

    def slow_database(timeout):
        given["database"] = timeout
        probe_clock.now += health.CHECK_CAP_S

    def broker(timeout):
        given["broker"] = timeout
        probe_clock.now += health.PROBE_BUDGET_S - health.CHECK_CAP_S

    monkeypatch.setattr(health, "check_database", slow_database)
    monkeypatch.setattr(health, "check_broker", broker)
    monkeypatch.setattr(health, "check_codat", lambda timeout: pytest.fail("no time was left"))
    settings.SANDBOX_ENABLED = False

    response = client.get(reverse("readyz"))

    assert given == {
        "database": health.CHECK_CAP_S,
        "broker": pytest.approx(health.PROBE_BUDGET_S - health.CHECK_CAP_S),
    }
    assert response.status_code == 503
    body = response.json()
    assert body["reasons"] == ["storage: not checked, the probe ran out of time"]
    assert body["warnings"] == ["codat: not checked, the probe ran out of time"]


def test_receipt_previews_may_load_from_the_bucket_s_origin_only():
    from types import SimpleNamespace

    from sfe_portal.security import storage_origins

    aws = SimpleNamespace(bucket_name="rcpts", custom_domain=None, endpoint_url=None)
    regional = SimpleNamespace(
        bucket_name="rcpts", custom_domain=None, endpoint_url=None, region_name="eu-west-2"
    )
    compatible = SimpleNamespace(
        bucket_name="rcpts", custom_domain=None, endpoint_url="https://minio.internal:9000/x"
    )

    assert storage_origins(SimpleNamespace(location="/srv/media")) == ()
    assert storage_origins(aws) == ("https://rcpts.s3.amazonaws.com",)
    assert storage_origins(regional) == (
        "https://rcpts.s3.amazonaws.com",
        "https://rcpts.s3.eu-west-2.amazonaws.com",
    )
    assert storage_origins(compatible) == ("https://minio.internal:9000",)


_captured: list[dict] = []


@celery_app.task(name="tests.capture_log_context")
def _capture_log_context(company_id):
    _captured.append(log_context())


def test_a_task_names_itself_and_its_ids_and_the_caller_keeps_its_context():
    _captured.clear()
    with log_context_scope(request_id="r-9", user="finance"):
        _capture_log_context.delay(5)
        after = log_context()

    [inside] = _captured
    assert inside["request_id"] == "r-9"
    assert inside["user"] == "finance"
    assert inside["company_id"] == 5
    assert inside["task"] == "tests.capture_log_context"
    assert inside["task_id"]
    assert after == {"request_id": "r-9", "user": "finance"}
