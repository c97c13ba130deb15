"""Fixtures for onboarding tests: the sandbox served by the live server and reached over real
HTTP, and a helper that walks a company through the real services to a given point."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from companies.models import Company, Connection, ConnectionKind
from companies.onboarding import company_onboard
from companies.platforms import Platform
from sandbox.models import SandboxSettings

AUTH = {"Authorization": "Basic " + base64.b64encode(b"sandbox-api-key").decode()}


@dataclass
class Sandbox:
    """The sandbox's control surface, as a test drives the customer's side."""

    base: str

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        response = requests.request(method, self.base + path, json=body, headers=AUTH, timeout=10)
        assert response.status_code < 400, response.text
        return response

    def authorize(self, connection: Connection) -> None:
        company = connection.company
        self.call(
            "POST",
            f"/_sandbox/companies/{company.codat_company_id}/connections/"
            f"{connection.codat_connection_id}/authorize",
        )

    def deauthorize(self, connection: Connection) -> None:
        company = connection.company
        self.call(
            "POST",
            f"/_sandbox/companies/{company.codat_company_id}/connections/"
            f"{connection.codat_connection_id}/deauthorize",
        )

    def change_record(
        self, company: Company, data_type: str, record_id: str, **fields: Any
    ) -> None:
        self.call(
            "PATCH",
            f"/_sandbox/companies/{company.codat_company_id}/records/{data_type}/{record_id}",
            fields,
        )

    def delete_record(self, company: Company, data_type: str, record_id: str) -> None:
        self.call(
            "DELETE",
            f"/_sandbox/companies/{company.codat_company_id}/records/{data_type}/{record_id}",
        )


@pytest.fixture
def sandbox(live_server: Any, settings: Any, transactional_db: None) -> Sandbox:
    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    return Sandbox(base=settings.CODAT_BASE_URL)


def accounting(company: Company) -> Connection:
    return Connection.objects.get(company=company, kind=ConnectionKind.ACCOUNTING)


@pytest.fixture
def linked_company(sandbox: Sandbox, django_user_model: Any) -> Callable[..., Company]:
    """Onboard a company through the services until it is linked and its data pulled (eager
    tasks run each step once; the test plays the customer who clicks the link)."""
    from companies import tasks

    def make(platform: Platform = Platform.XERO, name: str = "Harbour Coffee Ltd") -> Company:
        # The support user later steps (configuration) act as.
        django_user_model.objects.get_or_create(username="support", is_staff=True)
        company = company_onboard(name=name, platform=platform)
        sandbox.authorize(accounting(company))
        tasks.link_check.delay(company.pk)
        company.refresh_from_db()
        return company

    return make


@pytest.fixture
def ready_company(linked_company: Callable[..., Company]) -> Callable[..., Company]:
    """A linked company with its data pulled and a configuration Codat accepted."""
    from django.contrib.auth.models import User
    from django.db.models import Q

    from companies.models import Customer, LedgerAccount, Supplier
    from companies.onboarding import company_configuration_save

    def make(platform: Platform = Platform.XERO, name: str = "Harbour Coffee Ltd") -> Company:
        company = linked_company(platform=platform, name=name)
        company_configuration_save(
            company=company,
            bank_account=LedgerAccount.objects.usable()
            .filter(company=company, is_bank_account=True, currency=company.base_currency)
            .first(),
            # One that trades in the company's currency (or any): the sandbox's suppliers come
            # in several currencies, and a USD-only default would refuse GBP expenses.
            supplier=Supplier.objects.usable()
            .filter(company=company)
            .filter(Q(default_currency="") | Q(default_currency=company.base_currency))
            .first(),
            customer=Customer.objects.usable().filter(company=company).first(),
            by=User.objects.get(username="support"),
        )
        company.refresh_from_db()
        return company

    return make
