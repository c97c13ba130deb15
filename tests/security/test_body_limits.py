"""Bodies over an endpoint's limit are answered in JSON naming the limit (413), on the ingest
API and on the Codat webhook alike, never with Django's HTML 400; and the ingest API reads every
batch its document allows."""

import json

import pytest
from django.urls import reverse

from expenses.api import OPENAPI_PATH
from expenses.ingest import MAX_BATCH, MAX_BODY_BYTES, ingest_token_create
from expenses.models import Expense
from syncs.models import WebhookEvent
from syncs.webhook_views import MAX_BODY_BYTES as WEBHOOK_MAX_BYTES
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

SIX_MB = 6_000_000


@pytest.fixture
def company():
    return CompanyFactory()


@pytest.fixture
def key(company):
    return ingest_token_create(name="card platform", company=company)[1]


def _ingest(client, company, key, body: str):
    return client.post(
        reverse("api-ingest-expenses", args=[company.pk]),
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )


def _item(index: int, notes: str, merchant: str = "Pret A Manger") -> dict[str, object]:
    return {
        "external_id": f"tx-{index:04d}",
        "type": "Payment",
        "issue_date": "2026-11-02",
        "currency": "GBP",
        "amount": "12.50",
        "merchant_name": merchant,
        "employee_name": "Ada Lovelace",
        "card_label": "Visa 4242",
        "notes": notes,
    }


def test_a_6_mb_ingest_body_gets_a_json_413_naming_the_limit(client, company, key):
    body = json.dumps({"expenses": [_item(0, "x" * SIX_MB)]})

    response = _ingest(client, company, key, body)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["max_bytes"] == MAX_BODY_BYTES == 5_767_168
    assert answer["errors"][0]["field"] == "body"
    assert "at most 5,767,168 bytes (5.5 MiB)" in answer["errors"][0]["message"]
    assert f"{len(body):,} bytes" in answer["errors"][0]["message"]
    assert not Expense.objects.exists()


def test_a_thousand_item_batch_of_5_4_mb_is_accepted(client, company, key):
    # Notes at their longest (5,000 characters) and a long merchant name.
    items = [_item(i, "n" * 5_000, merchant="m" * 200) for i in range(MAX_BATCH)]
    body = json.dumps({"expenses": items})
    assert 5_400_000 <= len(body) <= MAX_BODY_BYTES  # over Django's 5 MiB default

    response = _ingest(client, company, key, body)

    assert response.status_code == 200, response.content[:300]
    assert response.json()["created"] == MAX_BATCH
    assert Expense.objects.filter(company=company).count() == MAX_BATCH


def test_the_document_states_the_byte_limit_the_api_applies():
    document = json.loads(OPENAPI_PATH.read_text())
    operation = document["paths"]["/api/v1/companies/{companyId}/expenses"]["post"]

    assert operation["requestBody"]["x-max-body-bytes"] == MAX_BODY_BYTES
    assert "5,767,168 bytes" in operation["requestBody"]["description"]
    assert "413" in operation["responses"]


def test_an_oversized_body_without_a_key_is_still_refused_for_the_key(client, company):
    response = _ingest(client, company, "", "x" * SIX_MB)

    assert response.status_code == 401


def test_a_6_mb_webhook_body_gets_a_json_413_naming_the_limit(client):
    body = json.dumps({"eventType": "expenses.sync.successful", "padding": "x" * SIX_MB})

    response = client.post(reverse("codat-webhook"), body, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["maxBytes"] == WEBHOOK_MAX_BYTES
    assert f"at most {WEBHOOK_MAX_BYTES:,} bytes" in answer["error"]
    assert not WebhookEvent.objects.exists()
