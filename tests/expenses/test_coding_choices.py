"""Coding choices are read once per master data version and offered again until a write of
the company's records gives it a new version: a refresh, an edit in admin, a deletion."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from companies.models import Company, LedgerAccount, SourceStatus
from expenses.selectors import coding_choices
from sfe_portal.memo import VersionedMemo
from tests.factories import (
    CompanyFactory,
    ExpenseFactory,
    LedgerAccountFactory,
    TaxRateFactory,
    TrackingCategoryFactory,
)

pytestmark = pytest.mark.django_db


def _names(records):
    return sorted(record.name for record in records)


def test_the_choices_of_a_version_are_read_once(books, django_assert_num_queries):
    first = coding_choices(company=books.company)
    read_again = Company.objects.get(pk=books.company.pk)

    with django_assert_num_queries(0):
        again = coding_choices(company=read_again)

    assert again is first
    assert _names(again.accounts) == ["Cashback", "Company card", "Meals", "Travel"]


def test_a_record_saved_on_its_own_gives_its_company_a_new_version(books):
    before = books.company.master_data_version
    coding_choices(company=books.company)

    LedgerAccountFactory(company=books.company, name="Fuel")

    # The company object the record was saved with holds the new version, and so does the row.
    assert books.company.master_data_version != before
    stored = Company.objects.get(pk=books.company.pk)
    assert stored.master_data_version == books.company.master_data_version
    assert "Fuel" in _names(coding_choices(company=books.company).accounts)


def test_an_account_archived_in_admin_leaves_the_rows_offer(client, books, member):
    ExpenseFactory(company=books.company)
    queue = reverse("expense-queue", args=[books.company.pk])
    assert "Meals</option>" in client.get(queue).content.decode()

    # As admin's change form does it: a record read on its own, its company not loaded.
    meals = LedgerAccount.objects.get(pk=books.meals.pk)
    meals.status = SourceStatus.ARCHIVED
    meals.save()

    body = client.get(queue).content.decode()
    assert "Meals</option>" not in body
    assert "Travel</option>" in body


def test_a_deleted_record_is_no_longer_offered(books):
    rate = TaxRateFactory(company=books.company, name="Zero rated")
    assert "Zero rated" in _names(coding_choices(company=books.company).tax_rates)

    rate.delete()

    company = Company.objects.get(pk=books.company.pk)
    assert "Zero rated" not in _names(coding_choices(company=company).tax_rates)


def test_a_new_tracking_category_is_offered_in_its_group(books, tracking):
    coding_choices(company=books.company)

    TrackingCategoryFactory(company=books.company, name="Marketing", parent=tracking.parent)

    groups = coding_choices(company=Company.objects.get(pk=books.company.pk)).tracking_groups
    assert [(g.name, _names(g.options)) for g in groups] == [
        ("Departments", ["Marketing", "Sales"])
    ]


def test_companies_sharing_a_version_value_keep_their_own_choices():
    # Rows that existed before the version column all got the same first value.
    shared = uuid.uuid4()
    one, other = CompanyFactory(), CompanyFactory()
    LedgerAccountFactory(company=one, name="One's account")
    LedgerAccountFactory(company=other, name="Other's account")
    Company.objects.update(master_data_version=shared)

    assert _names(coding_choices(company=Company.objects.get(pk=one.pk)).accounts) == [
        "One's account"
    ]
    assert _names(coding_choices(company=Company.objects.get(pk=other.pk)).accounts) == [
        "Other's account"
    ]


def test_the_memo_keeps_the_most_recently_used_entries():
    memo: VersionedMemo[str, int] = VersionedMemo(size=2)
    computed: list[str] = []

    def value(key: str) -> int:
        return memo.get_or_compute(key, lambda: computed.append(key) or len(computed))

    assert [value("a"), value("b"), value("a"), value("c")] == [1, 2, 1, 3]
    assert len(memo) == 2
    # "b" was the least recently used when "c" came in, so it is computed again; "a" is not.
    assert [value("a"), value("b")] == [1, 4]
    assert computed == ["a", "b", "c", "b"]


def test_deleting_a_company_does_not_renew_its_version_once_per_record():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    company = CompanyFactory()
    for _ in range(3):
        LedgerAccountFactory(company=company)
        TaxRateFactory(company=company)

    with CaptureQueriesContext(connection) as captured:
        company.delete()

    assert not Company.objects.filter(pk=company.pk).exists()
    renewals = [q for q in captured.captured_queries if "master_data_version" in q["sql"]]
    assert renewals == []
