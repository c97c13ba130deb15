"""Bring a company to the point of pushing against the sandbox over HTTP, through the real
onboarding services: created in Codat, linked, its data pulled and its configuration saved."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import requests
from django.conf import settings
from django.contrib.auth.models import User

from companies.models import (
    Company,
    Connection,
    ConnectionKind,
    Customer,
    LedgerAccount,
    Supplier,
    TaxRate,
)
from companies.onboarding import company_configuration_save, company_onboard


def control(method: str, path: str, json: object = None) -> requests.Response:
    auth = "Basic " + base64.b64encode(settings.CODAT_API_KEY.encode()).decode()
    response = requests.request(
        method,
        f"{settings.CODAT_BASE_URL}/_sandbox/{path}",
        json=json,
        headers={"Authorization": auth},
        timeout=30,
    )
    response.raise_for_status()
    return response


@dataclass
class SandboxBooks:
    company: Company
    accounts: dict[str, LedgerAccount]  # by Codat id
    tax_rates: list[TaxRate]


def onboard(platform: str, name: str = "Harbour Coffee Ltd") -> SandboxBooks:
    """Onboard with Celery running tasks in-process (the customer's click is played here)."""
    from companies import tasks
    from sfe_portal.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        company = company_onboard(name=name, platform=platform)  # type: ignore[arg-type]
        company.refresh_from_db()  # the Codat company was created by the task after commit
        accounting = Connection.objects.get(company=company, kind=ConnectionKind.ACCOUNTING)
        control(
            "POST",
            f"companies/{company.codat_company_id}/connections/{accounting.codat_connection_id}"
            "/authorize",
        )
        tasks.link_check.delay(company.pk)
        company.refresh_from_db()
        support, _ = User.objects.get_or_create(username="support", defaults={"is_staff": True})
        company_configuration_save(
            company=company,
            bank_account=LedgerAccount.objects.usable()
            .filter(company=company, is_bank_account=True, currency=company.base_currency)
            .order_by("codat_id")
            .first(),  # type: ignore[arg-type]
            supplier=Supplier.objects.usable()
            .filter(company=company, default_currency__in=["", company.base_currency])
            .order_by("codat_id")
            .first(),
            customer=Customer.objects.usable().filter(company=company).order_by("codat_id").first(),
            by=support,
        )
    finally:
        app.conf.task_always_eager = eager
    company.refresh_from_db()
    return SandboxBooks(
        company=company,
        accounts={a.codat_id: a for a in LedgerAccount.objects.filter(company=company)},
        tax_rates=list(TaxRate.objects.filter(company=company)),
    )
