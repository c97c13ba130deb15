"""Every exchange with Codat is kept for support, against the company, without the key."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from codat import Exchange
from gateway.exchanges import codat_client
from gateway.models import CodatExchange
from sandbox.models import SandboxSettings
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(live_server, settings):
    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(pk=1, defaults={"sync_delay_ms": 0})
    return settings.CODAT_BASE_URL


def test_exchanges_are_recorded_against_the_company_without_the_key(sandbox):
    company = CompanyFactory()
    client = codat_client(company_id=company.pk)

    created = client.create_company("Harbour Coffee Ltd")
    client.get_company(created.id)

    rows = list(CodatExchange.objects.order_by("created_at", "id"))
    assert [(r.method, r.path, r.status) for r in rows] == [
        ("POST", "/companies", 200),
        ("GET", f"/companies/{created.id}", 200),
    ]
    assert all(r.company_id == company.pk for r in rows)
    assert "Harbour Coffee Ltd" in rows[0].request_body
    assert not any("sandbox-api-key" in (r.request_body + r.response_body) for r in rows)


def test_a_failed_exchange_is_recorded_with_its_status(sandbox):
    from codat import CodatNotFoundError

    client = codat_client()

    with pytest.raises(CodatNotFoundError):
        client.get_company("6c8a6a55-0e4e-4c3b-9a5f-2d1b8c0a9f10")

    row = CodatExchange.objects.get()
    assert row.status == 404
    assert row.company_id is None
    assert "No company" in row.response_body


def test_an_exchange_kept_by_a_thread_is_stored_with_the_time_codat_answered(sandbox, monkeypatch):
    # Posting lanes and the results reader keep their exchanges and the task records them
    # later: the support log still shows when each call happened.
    from gateway.exchanges import codat_exchange_observe

    company = CompanyFactory()
    kept: list[Exchange] = []
    client = codat_client(company_id=company.pk, keep_exchanges=kept)
    before = timezone.now()
    client.create_company("Harbour Coffee Ltd")
    answered = timezone.now()
    [exchange] = kept

    # Recorded "five minutes later".
    monkeypatch.setattr(timezone, "now", lambda: answered + timedelta(minutes=5))
    codat_exchange_observe(company_id=company.pk, exchange=exchange)
    monkeypatch.undo()

    stored = CodatExchange.objects.get()
    assert before <= stored.created_at <= answered


def test_a_keyed_write_keeps_its_idempotency_key_and_support_finds_every_attempt_by_it(
    db, admin_client
):
    from gateway.exchanges import codat_exchanges_observe, exchange_record

    key = "5b0f7d57-2a0b-4c4e-9a57-0f0e8f3a1c11"

    def attempt(number: int, status: int | None) -> Exchange:
        return Exchange(
            method="POST",
            path="/companies/c1/sync/expenses/expense-transactions",
            query="",
            status=status,
            duration_ms=30,
            correlation_id=f"corr-{number}",
            request_body="[]",
            response_body="",
            error="" if status else "timed out",
            attempt=number,
            idempotency_key=key,
        )

    exchange_record(company_id=None, exchange=attempt(1, None))
    codat_exchanges_observe(company_id=None, exchanges=[attempt(2, 200)])
    exchange_record(
        company_id=None,
        exchange=Exchange(
            "GET", "/companies/c1/sync/expenses/syncs/s1/status", "", 200, 5, "r", None, "{}", None
        ),
    )

    assert sorted(CodatExchange.objects.values_list("idempotency_key", flat=True)) == [
        "",
        key,
        key,
    ]
    page = admin_client.get(
        reverse("admin:gateway_codatexchange_changelist"), {"q": key}
    ).content.decode()
    assert page.count("expense-transactions") >= 2
    assert "/syncs/s1/status" not in page
