from dataclasses import dataclass
from decimal import Decimal

import pytest

from companies.models import Company, CompanyConfiguration, LedgerAccount, Role, TaxRate
from companies.platforms import Platform
from tests.factories import (
    CompanyFactory,
    CustomerFactory,
    LedgerAccountFactory,
    MembershipFactory,
    SupplierFactory,
    TaxRateFactory,
    TrackingCategoryFactory,
)

ALL_SPEND = ["Payment", "Refund", "Chargeback"]


@dataclass
class Books:
    """A configured company with a small chart of accounts, as finance staff would see it."""

    company: Company
    travel: LedgerAccount
    meals: LedgerAccount
    cashback: LedgerAccount
    card: LedgerAccount
    vat: TaxRate
    no_tax: TaxRate


def make_books(platform=Platform.XERO, base="GBP", card_currency="GBP", **config):
    company = CompanyFactory(platform=platform, base_currency=base)
    card = LedgerAccountFactory(
        company=company,
        name="Company card",
        account_type="Liability",
        is_bank_account=True,
        currency=card_currency,
        valid_transaction_types=["TransferIn", "TransferOut", "AdjustmentIn", "AdjustmentOut"],
    )
    CompanyConfiguration.objects.create(
        company=company,
        bank_account=card,
        supplier=config.get("supplier", SupplierFactory(company=company)),
        customer=config.get("customer", CustomerFactory(company=company)),
    )
    return Books(
        company=company,
        travel=LedgerAccountFactory(
            company=company, name="Travel", valid_transaction_types=ALL_SPEND
        ),
        meals=LedgerAccountFactory(
            company=company, name="Meals", valid_transaction_types=ALL_SPEND
        ),
        cashback=LedgerAccountFactory(
            company=company,
            name="Cashback",
            account_type="Income",
            valid_transaction_types=["Reward"],
        ),
        card=card,
        vat=TaxRateFactory(company=company, name="20% VAT", effective_rate=Decimal("20")),
        no_tax=TaxRateFactory(
            company=company, name="No VAT", code="NONE", effective_rate=Decimal("0")
        ),
    )


@pytest.fixture
def books(db):
    return make_books()


@pytest.fixture
def tracking(books):
    parent = TrackingCategoryFactory(company=books.company, name="Departments", has_children=True)
    return TrackingCategoryFactory(company=books.company, name="Sales", parent=parent)


@pytest.fixture
def member(client, books):
    """An approver of the books' company, logged in on `client`."""
    membership = MembershipFactory(company=books.company, role=Role.APPROVER)
    client.force_login(membership.user)
    return membership
