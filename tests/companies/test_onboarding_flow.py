"""Onboarding over real HTTP against the sandbox: every platform ends linked, refreshed and
configured with the sandbox's data in our tables."""

from __future__ import annotations

import pytest

from companies.models import (
    BankAccount,
    CompanyStatus,
    ConnectionKind,
    ConnectionStatus,
    Customer,
    LedgerAccount,
    Supplier,
    TaxRate,
    TrackingCategory,
)
from companies.onboarding import company_configuration_save
from companies.platforms import Platform
from tests.companies.conftest import AUTH, accounting

pytestmark = pytest.mark.django_db(transaction=True)

BASE_CURRENCY = {
    Platform.XERO: "GBP",
    Platform.QUICKBOOKS_ONLINE: "USD",
    Platform.NETSUITE: "USD",
    Platform.DYNAMICS_365: "EUR",
}


@pytest.mark.parametrize("platform", list(Platform))
def test_onboarding_ends_linked_refreshed_and_configured(platform, sandbox, linked_company):
    import requests

    company = linked_company(platform=platform)

    assert company.status == CompanyStatus.NEEDS_CONFIGURATION
    assert company.base_currency == BASE_CURRENCY[platform]
    assert company.master_data_refreshed_at is not None
    kinds = {c.kind: c.status for c in company.connections.all()}
    assert kinds == {
        ConnectionKind.ACCOUNTING: ConnectionStatus.LINKED,
        ConnectionKind.PARTNER_EXPENSE: ConnectionStatus.LINKED,
    }
    remote_accounts = requests.get(
        f"{sandbox.base}/companies/{company.codat_company_id}/data/accounts?pageSize=5000",
        headers=AUTH,
        timeout=10,
    ).json()["results"]
    assert set(
        LedgerAccount.objects.filter(company=company).values_list("codat_id", flat=True)
    ) == {a["id"] for a in remote_accounts}
    assert LedgerAccount.objects.filter(company=company, status="Archived").exists()
    assert (
        LedgerAccount.objects.filter(company=company).exclude(valid_transaction_types=[]).exists()
    )
    assert TaxRate.objects.filter(company=company).exclude(valid_transaction_types=[]).exists()
    assert TrackingCategory.objects.filter(company=company, parent__isnull=False).exists()
    assert Supplier.objects.filter(company=company).count() == 10
    assert Customer.objects.filter(company=company).count() == 6
    assert BankAccount.objects.filter(company=company).exists()

    bank = LedgerAccount.objects.usable().filter(company=company, is_bank_account=True).first()
    supplier = Supplier.objects.usable().filter(company=company).first()
    customer = Customer.objects.usable().filter(company=company).first()
    company_configuration_save(
        company=company, bank_account=bank, supplier=supplier, customer=customer, by=_staff()
    )

    company.refresh_from_db()
    assert company.status == CompanyStatus.READY
    assert company.configuration.saved_to_codat_at is not None
    remote = requests.get(
        f"{sandbox.base}/companies/{company.codat_company_id}/sync/expenses/config",
        headers=AUTH,
        timeout=10,
    ).json()
    assert remote["bankAccount"]["id"] == bank.codat_id
    assert remote["supplier"]["id"] == supplier.codat_id


def _staff():
    from django.contrib.auth.models import User

    return User.objects.get(username="support")


def test_onboarding_waits_for_the_customer_before_linking(sandbox):
    from companies import tasks
    from companies.onboarding import company_onboard

    company = company_onboard(name="Slow Link Ltd", platform=Platform.XERO)
    tasks.link_check.delay(company.pk)

    company.refresh_from_db()
    connection = accounting(company)
    assert company.status == CompanyStatus.AWAITING_LINK
    assert connection.status == ConnectionStatus.PENDING_AUTH
    assert "/link/" in connection.link_url
    assert not company.connections.filter(kind=ConnectionKind.PARTNER_EXPENSE).exists()


def test_a_retried_create_finds_the_codat_company_and_connection_it_made_before(sandbox):
    """A worker that died after Codat answered but before we saved leaves no duplicate."""
    from companies.models import Company, Connection
    from companies.onboarding import company_codat_create, company_onboard

    company = company_onboard(name="Crashy Ltd", platform=Platform.NETSUITE)
    company.refresh_from_db()
    assert company.codat_company_id is not None
    first_company_id = company.codat_company_id
    first_connection_id = accounting(company).codat_connection_id
    # Forget what was saved, as if the worker died before writing it.
    Connection.objects.filter(company=company).delete()
    Company.objects.filter(pk=company.pk).update(codat_company_id=None)
    company.refresh_from_db()

    company_codat_create(company=company)

    company.refresh_from_db()
    assert company.codat_company_id == first_company_id
    assert accounting(company).codat_connection_id == first_connection_id
