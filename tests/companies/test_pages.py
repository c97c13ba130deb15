"""The connect, onboarding and settings pages: who may use them, what they show, and that
they only read our own tables (Codat is reached by tasks, never by a view)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from companies.models import (
    Company,
    CompanyConfiguration,
    CompanyStatus,
    ConnectionKind,
    ConnectionStatus,
    Membership,
    Role,
)
from companies.platforms import Platform
from companies.selectors import company_push_blockers
from tests.factories import (
    CompanyFactory,
    ConnectionFactory,
    CustomerFactory,
    LedgerAccountFactory,
    MembershipFactory,
    SupplierFactory,
    SupportFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_codat(settings):
    """Any call to Codat from these pages would fail loudly: nothing listens here."""
    settings.CODAT_BASE_URL = "http://127.0.0.1:9/codat"


def _ready(platform=Platform.XERO, **fields):
    fields.setdefault("status", CompanyStatus.READY)
    company = CompanyFactory(platform=platform, **fields)
    ConnectionFactory(company=company)
    ConnectionFactory(company=company, kind=ConnectionKind.PARTNER_EXPENSE)
    return company


def test_only_staff_reach_the_connect_page(client):
    client.force_login(UserFactory())
    assert client.get(reverse("company-connect")).status_code == 403
    assert (
        client.post(reverse("company-connect"), {"name": "X", "platform": "gbol"}).status_code
        == 403
    )
    assert not Company.objects.exists()


def test_connect_form_names_the_missing_field(client):
    client.force_login(SupportFactory())

    response = client.post(reverse("company-connect"), {"name": " ", "platform": "gbol"})

    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not Company.objects.exists()


def test_only_members_see_the_settings_page(client, no_codat):
    company = _ready()
    client.force_login(UserFactory())
    assert client.get(reverse("company-settings", args=[company.pk])).status_code == 404

    member = MembershipFactory(company=company, role=Role.VIEWER).user
    client.force_login(member)
    response = client.get(reverse("company-settings", args=[company.pk]))
    assert response.status_code == 200
    assert "Only approvers change the configuration" in response.content.decode()


def test_settings_page_shows_freshness_and_bank_accounts_only(client, no_codat):
    from datetime import timedelta

    from django.utils import timezone

    company = _ready(master_data_refreshed_at=timezone.now() - timedelta(hours=3))
    LedgerAccountFactory(
        company=company, name="Business Current", is_bank_account=True, currency="GBP"
    )
    LedgerAccountFactory(company=company, name="Travel", is_bank_account=False)
    LedgerAccountFactory(company=company, name="Old card", is_bank_account=True, status="Archived")
    client.force_login(SupportFactory())

    body = client.get(reverse("company-settings", args=[company.pk])).content.decode()

    assert "Pulled 3\xa0hours ago" in body
    assert "Business Current (GBP)" in body
    assert "Travel" not in body
    assert "Old card" not in body
    assert "Xero records refund, reward, chargeback" in body  # the customer's role on Xero


def test_dynamics_explains_and_requires_the_default_supplier(
    client, no_codat, django_capture_on_commit_callbacks
):
    company = _ready(platform=Platform.DYNAMICS_365, base_currency="EUR")
    bank = LedgerAccountFactory(company=company, is_bank_account=True, currency="EUR")
    client.force_login(SupportFactory())

    body = client.get(reverse("company-settings", args=[company.pk])).content.decode()
    assert "records every expense against this supplier" in body

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("company-configuration", args=[company.pk]), {"bank_account": bank.pk}
        )
    assert response.status_code == 400
    assert "choose one" in response.content.decode()
    assert callbacks == []
    assert not CompanyConfiguration.objects.exists()


def test_saving_the_configuration_queues_it_for_codat(
    client, no_codat, django_capture_on_commit_callbacks
):
    company = _ready()
    bank = LedgerAccountFactory(company=company, is_bank_account=True)
    supplier = SupplierFactory(company=company)
    customer = CustomerFactory(company=company)
    client.force_login(SupportFactory())

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("company-configuration", args=[company.pk]),
            {"bank_account": bank.pk, "supplier": supplier.pk, "customer": customer.pk},
        )

    assert response.status_code == 302
    config = CompanyConfiguration.objects.get(company=company)
    assert (config.bank_account, config.supplier, config.customer) == (bank, supplier, customer)
    assert config.saved_to_codat_at is None
    assert len(callbacks) == 1  # the push to Codat, after commit


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BOOKKEEPER])
def test_only_approvers_change_configuration_and_members(client, role):
    company = _ready()
    bank = LedgerAccountFactory(company=company, is_bank_account=True)
    other = UserFactory(username="newcomer")
    client.force_login(MembershipFactory(company=company, role=role).user)

    assert (
        client.post(
            reverse("company-configuration", args=[company.pk]), {"bank_account": bank.pk}
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("company-invite", args=[company.pk]),
            {"email": other.email, "role": "viewer"},
        ).status_code
        == 403
    )
    assert not Membership.objects.filter(user=other).exists()
    assert not company.invitations.exists()


def test_an_approver_changes_and_removes_members(client):
    company = _ready()
    approver = MembershipFactory(company=company, role=Role.APPROVER).user
    newcomer = MembershipFactory(company=company, role=Role.VIEWER).user
    client.force_login(approver)

    url = reverse("company-member-change", args=[company.pk, newcomer.pk])
    client.post(url, {"action": "role", "role": "bookkeeper"})
    assert Membership.objects.get(company=company, user=newcomer).role == Role.BOOKKEEPER

    client.post(url, {"action": "remove"})
    assert not Membership.objects.filter(company=company, user=newcomer).exists()


def test_onboarding_progress_polls_our_tables_and_shows_the_link(client, no_codat):
    company = CompanyFactory(status=CompanyStatus.AWAITING_LINK)
    ConnectionFactory(
        company=company,
        status=ConnectionStatus.PENDING_AUTH,
        link_url="http://127.0.0.1:8000/codat-sandbox/link/x/start",
    )
    client.force_login(SupportFactory())

    response = client.get(reverse("company-onboarding", args=[company.pk]), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert 'hx-trigger="every 2s"' in body
    assert "codat-sandbox/link/x/start" in body
    assert "Copy link" in body
    assert "<html" not in body


def test_a_failed_step_is_shown_in_plain_words_with_a_retry(client, no_codat):
    company = CompanyFactory(
        status=CompanyStatus.NEW,
        codat_company_id=None,
        last_error_step="create",
        last_error="Codat could not be reached (timeout). It will be retried; or retry now.",
    )
    client.force_login(SupportFactory())

    body = client.get(reverse("company-onboarding", args=[company.pk])).content.decode()

    assert "Codat could not be reached" in body
    assert "Retry" in body
    assert 'data-state="failed"' in body


def test_a_deauthorized_connection_shows_a_banner_on_company_pages_and_blocks_pushes(
    client, no_codat
):
    company = _ready(status=CompanyStatus.DISCONNECTED)
    company.connections.filter(kind=ConnectionKind.ACCOUNTING).update(
        status=ConnectionStatus.DEAUTHORIZED
    )
    client.force_login(SupportFactory())

    for name in ("company-detail", "company-settings", "expense-queue"):
        body = client.get(reverse(name, args=[company.pk])).content.decode()
        assert 'id="company-banner"' in body, name
        assert "connection is deauthorized" in body
    assert 'id="company-banner"' not in client.get(reverse("home")).content.decode()
    blockers = company_push_blockers(company=company)
    assert any("re-authorizes it" in b for b in blockers)


def test_a_ready_company_has_no_push_blockers():
    from django.utils import timezone

    company = _ready(master_data_refreshed_at=timezone.now())
    CompanyConfiguration.objects.create(
        company=company,
        bank_account=LedgerAccountFactory(company=company, is_bank_account=True),
        saved_to_codat_at=timezone.now(),
    )

    assert company_push_blockers(company=company) == []


def test_only_approvers_follow_onboarding(client, no_codat):
    company = CompanyFactory(status=CompanyStatus.AWAITING_LINK)
    client.force_login(MembershipFactory(company=company, role=Role.BOOKKEEPER).user)

    assert client.get(reverse("company-onboarding", args=[company.pk])).status_code == 403
    assert client.post(reverse("company-onboarding-retry", args=[company.pk])).status_code == 403


def test_progress_polling_reloads_the_page_once_the_configuration_is_needed(client, no_codat):
    company = _ready(status=CompanyStatus.NEEDS_CONFIGURATION)
    client.force_login(SupportFactory())

    response = client.get(reverse("company-onboarding", args=[company.pk]), HTTP_HX_REQUEST="true")

    assert response.headers["HX-Refresh"] == "true"
    page = client.get(reverse("company-onboarding", args=[company.pk])).content.decode()
    assert 'id="configuration-form"' in page
    assert 'hx-trigger="every 2s"' not in page


def test_when_the_link_check_gives_up_the_page_stops_polling_and_offers_a_check(client, no_codat):
    from companies.onboarding import company_link_wait_expired

    company = CompanyFactory(status=CompanyStatus.AWAITING_LINK)
    ConnectionFactory(
        company=company, status=ConnectionStatus.PENDING_AUTH, link_url="http://127.0.0.1/x"
    )
    company_link_wait_expired(company=company)
    client.force_login(SupportFactory())

    body = client.get(reverse("company-onboarding", args=[company.pk])).content.decode()

    assert "has not linked Xero yet" in body
    assert "Check the connection now" in body
    assert 'hx-trigger="every 2s"' not in body


def test_the_settings_page_queries_do_not_grow_with_members(client, no_codat):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    company = _ready()
    client.force_login(SupportFactory())
    MembershipFactory.create_batch(2, company=company)
    url = reverse("company-settings", args=[company.pk])
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    MembershipFactory.create_batch(10, company=company)
    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(many) == len(few)
