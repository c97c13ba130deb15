"""The database itself refuses what the companies domain forbids."""

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from companies.models import ConnectionKind, ConnectionStatus, Membership, SourceStatus
from tests.factories import (
    CompanyFactory,
    ConnectionFactory,
    LedgerAccountFactory,
    MembershipFactory,
    SupplierFactory,
    TaxRateFactory,
    TrackingCategoryFactory,
)

pytestmark = pytest.mark.django_db


def _refused(build):
    with pytest.raises(IntegrityError), transaction.atomic():
        build()


@pytest.mark.parametrize(
    "fields",
    [
        {"platform": "xxxx"},
        {"status": "sleeping"},
        {"base_currency": "gbp"},
        {"base_currency": "GB1"},
        {"name": ""},
    ],
)
def test_company_refuses_invalid_values(fields):
    _refused(lambda: CompanyFactory(**fields))


def test_company_codat_id_is_unique_but_may_be_unset():
    codat_id = uuid.uuid4()
    CompanyFactory(codat_company_id=codat_id)
    CompanyFactory(codat_company_id=None)
    CompanyFactory(codat_company_id=None)

    _refused(lambda: CompanyFactory(codat_company_id=codat_id))


def test_one_live_connection_of_each_kind_per_company():
    company = CompanyFactory()
    first = ConnectionFactory(company=company, kind=ConnectionKind.ACCOUNTING)
    ConnectionFactory(company=company, kind=ConnectionKind.PARTNER_EXPENSE)

    _refused(lambda: ConnectionFactory(company=company, kind=ConnectionKind.ACCOUNTING))

    first.deleted_at = timezone.now()
    first.save()
    ConnectionFactory(company=company, kind=ConnectionKind.ACCOUNTING)  # a replacement is fine


@pytest.mark.parametrize("fields", [{"kind": "bank"}, {"status": "linked"}])
def test_connection_refuses_invalid_values(fields):
    _refused(lambda: ConnectionFactory(**fields))


def test_connection_codat_id_is_unique():
    codat_id = uuid.uuid4()
    ConnectionFactory(codat_connection_id=codat_id)

    _refused(lambda: ConnectionFactory(codat_connection_id=codat_id))


def test_membership_is_unique_per_user_and_company():
    membership = MembershipFactory()

    _refused(lambda: Membership.objects.create(user=membership.user, company=membership.company))


def test_membership_refuses_unknown_role():
    _refused(lambda: MembershipFactory(role="owner"))


@pytest.mark.parametrize(
    "factory",
    [LedgerAccountFactory, TaxRateFactory, TrackingCategoryFactory, SupplierFactory],
)
def test_master_data_is_unique_per_company_and_codat_id(factory):
    record = factory(codat_id="42")
    factory(codat_id="42")  # same id in another company is another record

    _refused(lambda: factory(company=record.company, codat_id="42"))


@pytest.mark.parametrize(
    "factory", [LedgerAccountFactory, TaxRateFactory, TrackingCategoryFactory, SupplierFactory]
)
def test_master_data_refuses_unknown_source_status(factory):
    _refused(lambda: factory(status="Gone"))


def test_ledger_account_refuses_unknown_type():
    _refused(lambda: LedgerAccountFactory(account_type="Revenue"))


def test_tax_rate_cannot_be_negative():
    _refused(lambda: TaxRateFactory(effective_rate=Decimal("-1")))


def test_tracking_category_cannot_be_its_own_parent():
    category = TrackingCategoryFactory()
    category.parent = category

    _refused(category.save)


def test_usable_master_data_excludes_archived_deleted_and_vanished():
    company = CompanyFactory()
    usable = LedgerAccountFactory(company=company)
    LedgerAccountFactory(company=company, status=SourceStatus.ARCHIVED)
    LedgerAccountFactory(company=company, is_deleted=True)
    LedgerAccountFactory(company=company, missing_since=timezone.now())

    assert list(company.ledger_accounts.usable()) == [usable]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"missing_since": timezone.now()}, "no longer exists"),
        ({"is_deleted": True}, "was deleted"),
        ({"status": SourceStatus.ARCHIVED}, "is archived"),
    ],
)
def test_unusable_master_data_says_why(fields, reason):
    account = LedgerAccountFactory(**fields)

    assert not account.is_usable
    assert reason in account.unusable_reason


def test_account_accepts_only_its_valid_types():
    account = LedgerAccountFactory(valid_transaction_types=["Payment"])

    assert account.accepts("Payment")
    assert not account.accepts("Refund")


def test_connection_default_status_is_pending_auth():
    assert ConnectionFactory(status=ConnectionStatus.PENDING_AUTH).is_linked is False
