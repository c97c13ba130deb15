"""Connection health seen on a refresh, and records that vanish from the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from codat import types as codat_types
from companies import tasks
from companies.models import CompanyStatus, ConnectionStatus, LedgerAccount
from companies.refresh import Pulled, master_data_store
from companies.selectors import company_push_blockers
from tests.companies.conftest import accounting
from tests.factories import CompanyFactory, LedgerAccountFactory, SupportFactory


@pytest.mark.django_db(transaction=True)
def test_a_deauthorized_connection_is_seen_on_refresh_shown_and_blocks_pushes(
    sandbox, ready_company, client
):
    company = ready_company()
    assert company_push_blockers(company=company) == []

    sandbox.deauthorize(accounting(company))
    tasks.refresh.delay(company.pk)

    company.refresh_from_db()
    assert accounting(company).status == ConnectionStatus.DEAUTHORIZED
    assert company.status == CompanyStatus.DISCONNECTED
    assert "re-authorize" in company.last_error
    blockers = company_push_blockers(company=company)
    assert blockers == [
        "The Xero connection is deauthorized: nothing can be pushed until the customer "
        "re-authorizes it. Send them the link from the company settings, then choose “Check the "
        "connection”."
    ]
    client.force_login(SupportFactory())
    body = client.get(reverse("expense-queue", args=[company.pk])).content.decode()
    assert "connection is deauthorized" in body

    sandbox.authorize(accounting(company))
    tasks.link_check.delay(company.pk)

    company.refresh_from_db()
    assert company.status == CompanyStatus.READY
    assert company_push_blockers(company=company) == []


def _pulled(accounts: list[codat_types.Account]) -> Pulled:
    return Pulled(
        info=codat_types.CompanyInfo(company_name="X", base_currency="GBP", ledger_lock_date=None),
        accounts=accounts,
        mapping=codat_types.MappingOptions(
            expense_provider=None,
            accounts=tuple(
                codat_types.AccountMappingInfo(
                    id=a.id,
                    name=a.name,
                    currency="GBP",
                    account_type="Expense",
                    valid_transaction_types=("Payment",),
                )
                for a in accounts
                if a.status == "Active"
            ),
            tracking_categories=(),
            tax_rates=(),
        ),
        bank_accounts=[],
        suppliers=[],
        customers=[],
        tracking_categories=[],
        tax_rates=[],
    )


def _account(codat_id: str, name: str, status: str = "Active") -> codat_types.Account:
    return codat_types.Account(
        id=codat_id,
        name=name,
        nominal_code="400",
        fully_qualified_name=name,
        currency="GBP",
        type="Expense",
        status=status,
        is_bank_account=False,
        is_deleted=False,
    )


@pytest.mark.django_db
def test_a_vanished_account_is_marked_missing_and_comes_back_when_it_reappears():
    company = CompanyFactory(status=CompanyStatus.READY)
    kept = LedgerAccountFactory(company=company, codat_id="a1", name="Travel")
    gone = LedgerAccountFactory(company=company, codat_id="a2", name="Meals")
    now = timezone.now()

    master_data_store(
        company=company,
        pulled=_pulled([_account("a1", "Travel - National"), _account("a3", "Fuel", "Archived")]),
        now=now,
    )

    kept.refresh_from_db()
    gone.refresh_from_db()
    archived = LedgerAccount.objects.get(company=company, codat_id="a3")
    assert (kept.name, kept.valid_transaction_types, kept.missing_since) == (
        "Travel - National",
        ["Payment"],
        None,
    )
    assert gone.missing_since == now
    assert not gone.is_usable
    assert archived.status == "Archived"
    assert archived.valid_transaction_types == []

    later = now + timedelta(days=1)
    master_data_store(
        company=company,
        pulled=_pulled([_account("a1", "Travel"), _account("a2", "Meals")]),
        now=later,
    )
    gone.refresh_from_db()
    assert gone.missing_since is None
    assert gone.refreshed_at == later
    assert LedgerAccount.objects.get(codat_id="a3").missing_since == later


@pytest.mark.django_db
def test_a_refresh_gives_the_master_data_a_new_version_so_the_rows_offer_what_it_pulled():
    from companies.models import Company
    from expenses.selectors import coding_choices

    company = CompanyFactory(status=CompanyStatus.READY)
    LedgerAccountFactory(company=company, codat_id="a1", name="Travel")
    LedgerAccountFactory(company=company, codat_id="a2", name="Meals")
    offered = coding_choices(company=company)
    assert sorted(a.name for a in offered.accounts) == ["Meals", "Travel"]

    # The refresh writes in bulk (no per-record save): it renews the version itself.
    master_data_store(
        company=company,
        pulled=_pulled([_account("a1", "Travel - National"), _account("a4", "Fuel")]),
        now=timezone.now(),
    )

    for seen_as in (company, Company.objects.get(pk=company.pk)):
        names = sorted(a.name for a in coding_choices(company=seen_as).accounts)
        assert names == ["Fuel", "Travel - National"]


@pytest.mark.django_db(transaction=True)
def test_a_4040_from_a_sync_disconnects_at_once_and_the_check_finds_the_truth(
    sandbox, ready_company
):
    from companies.onboarding import company_codat_reported_unlinked

    company = ready_company()
    sandbox.deauthorize(accounting(company))

    company_codat_reported_unlinked(company=company)

    company.refresh_from_db()
    assert company.status == CompanyStatus.DISCONNECTED
    assert accounting(company).status == ConnectionStatus.DEAUTHORIZED  # the eager check ran
    assert any("deauthorized" in b for b in company_push_blockers(company=company))


@pytest.mark.django_db
def test_a_disconnected_company_is_blocked_even_before_the_check_answers():
    from tests.factories import ConnectionFactory

    company = CompanyFactory(
        status=CompanyStatus.DISCONNECTED, master_data_refreshed_at=timezone.now()
    )
    ConnectionFactory(company=company)
    ConnectionFactory(company=company, kind="partner_expense")

    blockers = company_push_blockers(company=company)

    assert any("no longer linked" in b for b in blockers)


@pytest.mark.django_db(transaction=True)
def test_a_refresh_makes_no_codat_call_while_the_company_has_every_call_slot_taken(
    sandbox, ready_company, settings
):
    from gateway.call_slots import call_slot_acquire, call_slot_release
    from gateway.models import CodatExchange

    company = ready_company()
    settings.CODAT_MAX_CALLS_PER_COMPANY = 1
    held = call_slot_acquire(company_id=company.pk, holder="a push in another worker")
    calls = CodatExchange.objects.filter(company=company).count()

    tasks.refresh.delay(company.pk)

    company.refresh_from_db()
    assert CodatExchange.objects.filter(company=company).count() == calls
    assert company.refresh_started_at is None

    call_slot_release(held)
    tasks.refresh.delay(company.pk)

    assert CodatExchange.objects.filter(company=company).count() > calls
