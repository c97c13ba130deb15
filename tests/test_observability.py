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


@pytest.mark.django_db
def test_readyz_names_codat_when_it_cannot_be_reached(client, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings.SANDBOX_ENABLED = False
    settings.CODAT_BASE_URL = f"http://127.0.0.1:{closed}"

    response = client.get(reverse("readyz"))

    assert response.status_code == 503
    [reason] = response.json()["reasons"]
    assert reason.startswith(f"codat: cannot reach Codat at http://127.0.0.1:{closed}")
    assert response.json()["checks"]["codat"]["ok"] is False


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
