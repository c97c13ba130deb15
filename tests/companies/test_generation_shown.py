"""A company's pages read its platform's rules in the generation of Codat's expenses API it
speaks, and say which one that is: the configuration notes, the receipts an expense can carry,
and a small label on the company list and on the company's own pages (overview, queue, settings,
syncs)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from django.urls import reverse

from companies.models import Role
from companies.platforms import PLATFORM_RULES, ApiGeneration, Platform
from tests.companies.test_pages import _ready
from tests.factories import ExpenseFactory, MembershipFactory, SupportFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_codat(settings):
    """Any call to Codat from these pages would fail loudly: nothing listens here."""
    settings.CODAT_BASE_URL = "http://127.0.0.1:9/codat"


def _xero_pair():
    v1 = _ready(name="Harbour Coffee Ltd", expenses_api=ApiGeneration.V1)
    newer = _ready(name="Kestrel Design Ltd", expenses_api=ApiGeneration.EXPENSES)
    return v1, newer


def _page(client, name, *args):
    return client.get(reverse(name, args=args)).content.decode()


def test_the_configuration_notes_name_only_the_types_the_companys_generation_takes(client):
    v1, newer = _xero_pair()
    client.force_login(SupportFactory())

    v1_page = _page(client, "company-settings", v1.pk)
    newer_page = _page(client, "company-settings", newer.pk)

    assert "Xero records payment, transfer out, adjustment out against a supplier" in v1_page
    assert (
        "Xero records refund, reward, chargeback, transfer in, adjustment in against this "
        "customer" in v1_page
    )
    # The newer generation takes transfers and adjustments elsewhere, if at all.
    assert "Xero records payment against a supplier" in newer_page
    assert "Xero records refund, reward, chargeback against this customer" in newer_page


def test_the_receipt_refusal_names_the_companys_generation(client, monkeypatch):
    xero = PLATFORM_RULES[Platform.XERO]
    monkeypatch.setitem(
        PLATFORM_RULES,
        Platform.XERO,
        dataclasses.replace(
            xero, receipts=dataclasses.replace(xero.receipts, transaction_types=frozenset())
        ),
    )
    pages = {}
    for company in _xero_pair():
        expense = ExpenseFactory(company=company, type="Payment")
        client.force_login(MembershipFactory(company=company, role=Role.APPROVER).user)
        pages[company.expenses_api] = _page(client, "expense-detail", company.pk, expense.pk)

    assert "Xero takes no receipts from Sync for Expenses." in pages[ApiGeneration.V1]
    assert "Xero takes no receipts from Codat&#x27;s Expenses API." in pages[ApiGeneration.EXPENSES]


def _label(page: str) -> list[str]:
    return re.findall(r'data-expenses-api="(\w+)"[^>]*>([^<]+)</span>', page)


def test_the_list_and_each_company_page_label_the_companys_generation(client):
    v1, newer = _xero_pair()
    user = MembershipFactory(company=v1, role=Role.APPROVER).user
    MembershipFactory(company=newer, user=user, role=Role.APPROVER)
    client.force_login(user)

    assert _label(_page(client, "home")) == [
        ("v1", "Sync for Expenses v1"),
        ("expenses", "Expenses API"),
    ]
    for company, label in ((v1, "Sync for Expenses v1"), (newer, "Expenses API")):
        for name in ("company-detail", "expense-queue", "company-settings", "sync-list"):
            assert _label(_page(client, name, company.pk)) == [(company.expenses_api, label)], name
