"""`companies.fast_sql` gives what its plain ORM version gives, on the same data."""

from __future__ import annotations

import pytest
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from companies.fast_sql import VisibleCompany, company_visible_row
from companies.models import (
    Company,
    CompanyConfiguration,
    Connection,
    ConnectionKind,
    ConnectionStatus,
    Role,
)
from tests.factories import (
    CompanyFactory,
    ConnectionFactory,
    CustomerFactory,
    LedgerAccountFactory,
    MembershipFactory,
    SupplierFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _orm_visible_row(*, company_id: int, user_id: int | None) -> VisibleCompany | None:
    """The same read through the ORM: what the statement stands in for."""
    companies = Company.objects.select_related(
        "configuration__bank_account", "configuration__supplier", "configuration__customer"
    ).annotate(
        **{
            f"{kind}_status": Subquery(
                Connection.objects.filter(
                    company=OuterRef("pk"), deleted_at__isnull=True, kind=kind
                )
                .order_by("-pk")
                .values("status")[:1]
            )
            for kind in ConnectionKind
        }
    )
    if user_id is not None:
        companies = companies.filter(memberships__user_id=user_id).annotate(
            member_role=F("memberships__role")
        )
    company = companies.filter(pk=company_id).first()
    if company is None:
        return None
    try:
        configuration: CompanyConfiguration | None = company.configuration
    except CompanyConfiguration.DoesNotExist:
        configuration = None
    statuses = {
        kind: status
        for kind in ConnectionKind
        if (status := getattr(company, f"{kind}_status")) is not None
    }
    return company, configuration, statuses, getattr(company, "member_role", None)


def _seen(found: VisibleCompany | None) -> object:
    if found is None:
        return None
    company, configuration, statuses, role = found
    records = None
    if configuration is not None:
        records = (
            configuration.pk,
            configuration.bank_account and configuration.bank_account.name,
            configuration.supplier and configuration.supplier.name,
            configuration.customer and configuration.customer.name,
        )
    return (company.pk, company.name, company.base_currency), records, dict(statuses), role


def test_the_visible_company_is_read_as_the_orm_reads_it():
    configured = CompanyFactory(name="Harbour Coffee Ltd")
    CompanyConfiguration.objects.create(
        company=configured,
        bank_account=LedgerAccountFactory(company=configured, name="Card 4411"),
        supplier=SupplierFactory(company=configured, name="Card purchases"),
        customer=CustomerFactory(company=configured, name="Card refunds"),
    )
    # The live connection of each kind counts; a deleted one never does.
    ConnectionFactory(
        company=configured, status=ConnectionStatus.UNLINKED, deleted_at=timezone.now()
    )
    ConnectionFactory(company=configured, status=ConnectionStatus.LINKED)
    ConnectionFactory(
        company=configured, kind=ConnectionKind.PARTNER_EXPENSE, status=ConnectionStatus.LINKED
    )
    bare = CompanyFactory(name="No Config Ltd")
    member = UserFactory()
    MembershipFactory(user=member, company=configured, role=Role.APPROVER)
    stranger = UserFactory()

    cases = [
        (configured.pk, None),
        (configured.pk, member.pk),
        (configured.pk, stranger.pk),
        (bare.pk, None),
        (bare.pk, member.pk),
        (bare.pk + 1000, None),
    ]
    for company_id, user_id in cases:
        fast = company_visible_row(company_id=company_id, user_id=user_id)
        plain = _orm_visible_row(company_id=company_id, user_id=user_id)
        assert _seen(fast) == _seen(plain), (company_id, user_id)
    assert _seen(company_visible_row(company_id=configured.pk, user_id=member.pk))[2:] == (
        {ConnectionKind.ACCOUNTING: "Linked", ConnectionKind.PARTNER_EXPENSE: "Linked"},
        Role.APPROVER,
    )


def test_the_configuration_s_records_come_with_it_without_another_query(
    django_assert_num_queries,
):
    company = CompanyFactory()
    CompanyConfiguration.objects.create(
        company=company, bank_account=LedgerAccountFactory(company=company, name="Card 4411")
    )

    with django_assert_num_queries(1):
        _, configuration, _, _ = company_visible_row(company_id=company.pk, user_id=None)
        assert configuration is not None
        assert configuration.bank_account.name == "Card 4411"
        assert configuration.supplier is None
