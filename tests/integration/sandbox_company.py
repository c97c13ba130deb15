"""Bring a company to the point of pushing against the sandbox over HTTP: created in Codat,
linked, configured, with the chart of accounts in our tables."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal

import requests
from django.conf import settings
from django.utils import timezone

from codat import CompanyConfiguration as CodatConfiguration
from companies.models import (
    Company,
    CompanyConfiguration,
    Connection,
    ConnectionKind,
    ConnectionStatus,
    Customer,
    LedgerAccount,
    Supplier,
    TaxRate,
)
from syncs.exchanges import codat_client


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
    accounts: dict[str, LedgerAccount]  # by codat id
    tax_rates: list[TaxRate]


def onboard(platform: str, name: str = "Harbour Coffee Ltd") -> SandboxBooks:
    client = codat_client()
    codat_company = client.create_company(name)
    connection = client.create_connection(codat_company.id, platform)
    control("POST", f"companies/{codat_company.id}/connections/{connection.id}/authorize")
    partner = client.create_partner_expense_connection(codat_company.id)
    client.refresh_all_data(codat_company.id)
    control("POST", "process")
    info = client.get_company_info(codat_company.id)
    company = Company.objects.create(
        name=name,
        platform=platform,
        codat_company_id=codat_company.id,
        base_currency=info.base_currency or "GBP",
        status="ready",
    )
    for kind, conn in (
        (ConnectionKind.ACCOUNTING, connection),
        (ConnectionKind.PARTNER_EXPENSE, partner),
    ):
        Connection.objects.create(
            company=company,
            codat_connection_id=conn.id,
            kind=kind,
            platform_key=platform,
            status=ConnectionStatus.LINKED,
        )
    now = timezone.now()
    options = client.get_mapping_options(codat_company.id)
    valid = {a.id: list(a.valid_transaction_types) for a in options.accounts}
    accounts = {
        a.id: LedgerAccount.objects.create(
            company=company,
            codat_id=a.id,
            name=a.name or a.id,
            nominal_code=a.nominal_code or "",
            account_type=a.type or "Unknown",
            currency=a.currency or "",
            is_bank_account=a.is_bank_account,
            status=a.status or "Active",
            is_deleted=a.is_deleted,
            valid_transaction_types=valid.get(a.id, []),
            refreshed_at=now,
        )
        for a in client.iter_accounts(codat_company.id)
    }
    tax_rates = [
        TaxRate.objects.create(
            company=company,
            codat_id=t.id or "",
            name=t.name or "",
            code=t.code or "",
            effective_rate=t.effective_tax_rate or Decimal(0),
            total_rate=t.total_tax_rate or Decimal(0),
            valid_transaction_types=list(t.valid_transaction_types),
            refreshed_at=now,
        )
        for t in options.tax_rates
    ]
    supplier = next(s for s in client.iter_suppliers(codat_company.id) if s.status == "Active")
    customer = next(c for c in client.iter_customers(codat_company.id) if c.status == "Active")
    bank = next(
        a
        for a in accounts.values()
        if a.is_bank_account and a.currency == company.base_currency and a.is_usable
    )
    client.save_company_configuration(
        codat_company.id,
        CodatConfiguration(
            bank_account_id=bank.codat_id, supplier_id=supplier.id, customer_id=customer.id
        ),
    )
    CompanyConfiguration.objects.create(
        company=company,
        bank_account=bank,
        supplier=Supplier.objects.create(
            company=company,
            codat_id=supplier.id,
            name=supplier.supplier_name or "",
            refreshed_at=now,
        ),
        customer=Customer.objects.create(
            company=company,
            codat_id=customer.id,
            name=customer.customer_name or "",
            refreshed_at=now,
        ),
    )
    return SandboxBooks(company=company, accounts=accounts, tax_rates=tax_rates)
