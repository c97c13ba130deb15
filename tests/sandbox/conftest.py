"""Fixtures for the sandbox's tests: an authorised API client and helpers that walk a company to
the point a test needs (created, linked, configured)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from sandbox.api import runtime
from sandbox.models import SandboxSettings

AUTH = "Basic " + base64.b64encode(b"sandbox-api-key").decode()
BASE = "/codat-sandbox"
# Nothing listens on the discard port: deliveries fail fast and are recorded, never sent anywhere.
CLOSED_URL = "http://127.0.0.1:9/webhooks/codat/"


class Api:
    """A test client speaking to the sandbox with the dev API key."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": AUTH, **extra}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method.lower())(BASE + path, **kwargs)

    def get(self, path: str, **extra: Any) -> Any:
        return self.call("GET", path, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.call("POST", path, body, **extra)

    def put(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.call("PUT", path, body, **extra)


@pytest.fixture
def api(client: Client, db: Any) -> Api:
    return Api(client)


@pytest.fixture(autouse=True)
def _sandbox_settings(request: pytest.FixtureRequest) -> Iterator[None]:
    names = set(request.fixturenames)
    if names & {"transactional_db", "live_server"}:
        request.getfixturevalue("transactional_db")
    elif names & {"db", "api"}:
        request.getfixturevalue("db")
    else:
        yield
        return
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": CLOSED_URL}
    )
    runtime.rng.seed(1234)
    yield


@dataclass
class Linked:
    company_id: str
    connection_id: str
    platform: str
    accounts: list[dict[str, Any]]
    tax_rates: list[dict[str, Any]]
    tracking: list[dict[str, Any]]
    suppliers: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    info: dict[str, Any]

    def account(self, name: str) -> dict[str, Any]:
        return next(a for a in self.accounts if a["name"] == name)

    def tax(self, rate_id: str) -> dict[str, Any]:
        return next(t for t in self.tax_rates if t["id"] == rate_id)

    def bank(self, currency: str | None = None, credit: bool = False) -> dict[str, Any]:
        currency = currency or self.info["baseCurrency"]
        return next(
            a
            for a in self.accounts
            if a["isBankAccount"]
            and a["currency"] == currency
            and (a["type"] == "Liability") == credit
        )


def make_company(api: Api, platform: str = "gbol", name: str = "Acme Travel") -> str:
    response = api.post("/companies", {"name": name})
    assert response.status_code == 200, response.content
    return str(response.json()["id"])


def link_company(api: Api, platform: str = "gbol", *, configure: bool = True) -> Linked:
    company_id = make_company(api, platform)
    connection = api.post(f"/companies/{company_id}/connections", {"platformKey": platform}).json()
    assert connection["status"] == "PendingAuth"
    assert (
        api.post(
            f"/_sandbox/companies/{company_id}/connections/{connection['id']}/authorize"
        ).status_code
        == 200
    )
    api.post(f"/companies/{company_id}/sync/expenses/connections/partnerExpense")

    def all_of(endpoint: str) -> list[dict[str, Any]]:
        response = api.get(f"/companies/{company_id}/data/{endpoint}?pageSize=5000")
        assert response.status_code == 200, response.content
        return list(response.json()["results"])

    linked = Linked(
        company_id=company_id,
        connection_id=connection["id"],
        platform=platform,
        accounts=all_of("accounts"),
        tax_rates=all_of("taxRates"),
        tracking=all_of("trackingCategories"),
        suppliers=all_of("suppliers"),
        customers=all_of("customers"),
        info=api.get(f"/companies/{company_id}/data/info").json(),
    )
    if configure:
        supplier = next(
            s for s in linked.suppliers if s["status"] == "Active" and s["defaultCurrency"] is None
        )
        customer = next(c for c in linked.customers if c["status"] == "Active")
        response = api.post(
            f"/companies/{company_id}/sync/expenses/config",
            {
                "bankAccount": {"id": linked.bank(credit=True)["id"]},
                "supplier": {"id": supplier["id"]},
                "customer": {"id": customer["id"]},
            },
        )
        assert response.status_code == 200, response.content
    return linked


NO_TAX = {"gbol": "NONE", "qhyg": "NON", "akxx": "-7", "trji": "ZERO"}


def payment(linked: Linked, tx_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid Payment for the linked company: base currency, an expense account, no tax."""
    account = linked.account("Travel - National")
    item: dict[str, Any] = {
        "id": tx_id,
        "type": "Payment",
        "issueDate": "2026-03-01T00:00:00Z",
        "currency": linked.info["baseCurrency"],
        "merchantName": "Trainline",
        "lines": [
            {
                "netAmount": 100.00,
                "taxAmount": 0,
                "accountRef": {"id": account["id"]},
                "taxRateRef": {"id": NO_TAX[linked.platform]},
            }
        ],
    }
    item.update(overrides)
    return item


def push(api: Api, linked: Linked, items: list[dict[str, Any]]) -> str:
    """Dataset + initiate-sync; returns the sync id (not yet processed unless delay is 0 and a
    status read follows)."""
    dataset = api.post(
        f"/companies/{linked.company_id}/sync/expenses/data/expense-transactions", {"items": items}
    )
    assert dataset.status_code == 200, dataset.content
    sync = api.post(
        f"/companies/{linked.company_id}/sync/expenses/syncs",
        {"datasetIds": [dataset.json()["datasetId"]]},
    )
    assert sync.status_code == 202, sync.content
    return str(sync.json()["syncId"])


def finish(api: Api, linked: Linked, sync_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the engine for everything due and return (sync status, transaction statuses)."""
    from sandbox.engine import process_due_syncs

    process_due_syncs(now=timezone.now() + timedelta(days=1))
    status = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/status").json()
    txs = api.get(
        f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/transactions?pageSize=5000"
    ).json()["results"]
    return status, txs
