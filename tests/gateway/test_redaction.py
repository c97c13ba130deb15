"""Secrets never reach the exchange log: redacted when stored and again when shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from codat import Exchange
from gateway.exchanges import exchange_record
from gateway.models import CodatExchange
from gateway.redaction import REDACTED, could_hold_secret, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('{"apiKey": "sk-12345", "name": "Acme"}', "sk-12345"),
        ('{"api_key":"abc"}', "abc"),
        (
            '{"webhookSecret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}',
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        ('{"accessToken": "eyJhbGciOiJIUzI1NiJ9.e30.sig"}', "eyJhbGciOiJIUzI1NiJ9"),
        ('{"token": 123456}', "123456"),
        ('{"client_secret": "s3cr3t\\"quoted"}', "s3cr3t"),
        ("Authorization: Basic c2FuZGJveC1hcGkta2V5", "c2FuZGJveC1hcGkta2V5"),
        ("authorization: Bearer abc.def.ghi\nAccept: json", "abc.def.ghi"),
        ("/companies?apiKey=zzz999&page=1", "zzz999"),
        ("the signing secret whsec_abcDEF123 was wrong", "whsec_abcDEF123"),
        ("sent Basic c2FuZGJveC1hcGkta2V5 to Codat", "c2FuZGJveC1hcGkta2V5"),
        # A session's key in the cache key a Redis command shows (an error tracker's breadcrumb).
        (
            "GET ':1:django.contrib.sessions.cached_dbtofwqr27w9un7llrki5jlrtcwxjj8dnn'",
            "tofwqr27w9un7llrki5jlrtcwxjj8dnn",
        ),
        ("SET django.contrib.sessions.cachek2j3h4g5f6d7s8a9", "k2j3h4g5f6d7s8a9"),
    ],
)
def test_secrets_are_replaced(text, secret):
    cleaned = redact(text)

    assert secret not in cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize(
    "text",
    [
        # Characters the patterns' case-insensitive matching reads as ASCII letters.
        '{"\u017fecret": "s-1"}',
        '{"api\u212aey": "k-2"}',
        '{"s\u0130gnature": "i-3"}',
        '{"s\u0131gnature": "i-4"}',
        "Authorization: BA\u017fIC c2FuZGJveC1hcGkta2V5",
        '{"PASSWD": "p-5"}',
        "ok sk_live_abc123",
        '{"x": "whsec_abcdef"}',
    ],
)
def test_a_text_is_only_kept_unread_when_no_pattern_could_match(text):
    assert could_hold_secret(text)
    assert REDACTED in redact(text)


def test_a_dataset_body_with_no_secret_name_or_shape_is_kept_without_the_patterns():
    body = '{"items": [{"id": "e-1", "merchantName": "Trainline", "lines": [{"netAmount": 1}]}]}'

    assert not could_hold_secret(body)
    assert redact(body) == body


def test_what_is_not_secret_is_kept_as_it_was():
    body = (
        '{"id": "8f14e45f-ceea-467f-a0e1-2b3c4d5e6f70", "merchantName": "Secretary Ltd", '
        '"tokens": 3, "lines": [{"netAmount": 10.5}]}'
    )

    assert redact(body) == body
    assert redact("") == ""


@pytest.mark.django_db
def test_an_exchange_is_stored_redacted():
    exchange = Exchange(
        method="POST",
        path="/companies/1/connections",
        query="apiKey=live-key-1",
        status=200,
        duration_ms=12,
        correlation_id="corr-1",
        request_body='{"apiKey": "live-key-1", "platformKey": "gbol"}',
        response_body='{"webhookSecret": "whsec_abc123", "id": "c1"}',
        error="",
    )

    row = exchange_record(company_id=None, exchange=exchange)

    row.refresh_from_db()
    stored = row.path + row.request_body + row.response_body
    assert "live-key-1" not in stored
    assert "whsec_abc123" not in stored
    assert '"platformKey": "gbol"' in row.request_body


@pytest.mark.django_db
def test_the_admin_shows_old_rows_redacted_too(admin_client):
    row = CodatExchange.objects.create(
        method="GET",
        path="/companies",
        status=401,
        request_body="Authorization: Basic c2FuZGJveC1hcGkta2V5",
        response_body='{"token": "leaked-token"}',
    )

    page = admin_client.get(reverse("admin:gateway_codatexchange_change", args=[row.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "c2FuZGJveC1hcGkta2V5" not in html
    assert "leaked-token" not in html
    assert REDACTED in html


@pytest.mark.django_db
def test_the_exchange_log_filters_by_company_operation_status_and_correlation_id(admin_client):
    from tests.factories import CompanyFactory

    acme = CompanyFactory(name="Acme")
    CodatExchange.objects.create(
        company=acme,
        method="POST",
        path="/companies/x/sync/expenses/data/expense-transactions",
        status=200,
        correlation_id="corr-dataset",
    )
    CodatExchange.objects.create(
        method="GET", path="/companies/x/syncs/y/status", status=500, correlation_id="corr-poll"
    )
    url = reverse("admin:gateway_codatexchange_changelist")

    by_company = admin_client.get(url, {"company__id__exact": acme.pk})
    by_operation = admin_client.get(url, {"operation": "syncs"})
    by_status = admin_client.get(url, {"status": 500})
    by_correlation = admin_client.get(url, {"q": "corr-dataset"})

    assert [r.correlation_id for r in by_company.context["cl"].result_list] == ["corr-dataset"]
    assert [r.correlation_id for r in by_operation.context["cl"].result_list] == ["corr-poll"]
    assert [r.correlation_id for r in by_status.context["cl"].result_list] == ["corr-poll"]
    assert [r.correlation_id for r in by_correlation.context["cl"].result_list] == ["corr-dataset"]
