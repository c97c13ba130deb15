"""Ingest keys as support makes them in the admin: for one company unless "All companies" is
ticked on purpose, with an optional expiry the API enforces and says so."""

import json
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from expenses.ingest import ingest_token_authenticate, ingest_token_create
from expenses.models import Expense, IngestToken
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

ADD = "admin:expenses_ingesttoken_add"
ITEM = {
    "external_id": "tx-1",
    "type": "Payment",
    "issue_date": "2026-11-02",
    "currency": "GBP",
    "amount": "12.50",
}


def _send(client, company, key):
    return client.post(
        reverse("api-ingest-expenses", args=[company.pk]),
        json.dumps({"expenses": [ITEM]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def test_a_key_with_no_company_and_no_all_companies_is_refused(admin_client):
    response = admin_client.post(reverse(ADD), {"name": "Card platform"})

    assert response.status_code == 200
    assert "or tick All companies" in response.content.decode()
    assert not IngestToken.objects.exists()


def test_all_companies_must_be_ticked_and_comes_with_a_warning(admin_client):
    response = admin_client.post(
        reverse(ADD), {"name": "Card platform", "all_companies": "on"}, follow=True
    )

    token = IngestToken.objects.get()
    assert token.company is None
    assert any("may send expenses for every company" in m for m in _messages(response))


def test_a_company_and_all_companies_together_are_refused(admin_client):
    company = CompanyFactory()

    response = admin_client.post(
        reverse(ADD), {"name": "Card platform", "company": company.pk, "all_companies": "on"}
    )

    assert "not both" in response.content.decode()
    assert not IngestToken.objects.exists()


def test_a_key_for_one_company_is_made_without_the_warning(admin_client):
    company = CompanyFactory()

    response = admin_client.post(
        reverse(ADD), {"name": "Card platform", "company": company.pk}, follow=True
    )

    assert IngestToken.objects.get().company == company
    assert not any("every company" in m for m in _messages(response))


def test_the_add_form_offers_no_revoked_at_to_drop(admin_client):
    page = admin_client.get(reverse(ADD)).content.decode()

    assert 'name="revoked_at' not in page
    assert 'name="expires_at' in page
    assert 'name="all_companies"' in page


def test_an_expiry_set_on_the_add_form_is_kept(admin_client):
    company = CompanyFactory()

    admin_client.post(
        reverse(ADD),
        {
            "name": "Card platform",
            "company": company.pk,
            "expires_at_0": "2099-03-01",
            "expires_at_1": "09:30:00",
        },
    )

    token = IngestToken.objects.get()
    assert token.expires_at == timezone.make_aware(datetime(2099, 3, 1, 9, 30))


def test_an_expiry_in_the_past_is_refused_on_the_add_form(admin_client):
    company = CompanyFactory()

    response = admin_client.post(
        reverse(ADD),
        {
            "name": "Card platform",
            "company": company.pk,
            "expires_at_0": "2020-03-01",
            "expires_at_1": "09:30:00",
        },
    )

    assert "the key would never work" in response.content.decode()
    assert not IngestToken.objects.exists()


def test_the_key_list_shows_expiry_and_all_companies(admin_client):
    ingest_token_create(
        name="Everyone", company=None, expires_at=timezone.now() + timedelta(days=30)
    )

    page = admin_client.get(reverse("admin:expenses_ingesttoken_changelist")).content.decode()

    assert "Expires at" in page
    assert "All companies" in page


def test_an_expired_key_is_refused_saying_it_expired(client):
    company = CompanyFactory()
    token, key = ingest_token_create(
        name="old", company=company, expires_at=timezone.now() - timedelta(minutes=1)
    )

    response = _send(client, company, key)

    assert response.status_code == 401
    message = response.json()["errors"][0]["message"]
    assert f"expired at {token.expires_at:%Y-%m-%d %H:%M} UTC" in message
    assert "ask support for a new key" in message
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Expense.objects.exists()
    token.refresh_from_db()
    assert token.last_used_at is None


def test_a_key_before_its_expiry_works(client):
    company = CompanyFactory()
    _, key = ingest_token_create(
        name="new", company=company, expires_at=timezone.now() + timedelta(days=1)
    )

    assert _send(client, company, key).status_code == 200


def test_an_unknown_key_is_still_the_plain_401():
    assert ingest_token_authenticate(raw="sfe_not-a-key") is None
