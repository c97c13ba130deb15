"""Changes to access and configuration are on record with who made them and when, in the
admin's history and on the company's change history page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from companies.models import CompanyConfiguration, Membership, Role
from expenses.history import company_history
from expenses.ingest import ingest_token_create
from expenses.models import CategorizationRule, IngestToken
from tests.expenses.conftest import make_books
from tests.factories import MembershipFactory, StaffFactory, SupplierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def books():
    return make_books()


@pytest.fixture
def approver(client, books):
    member = MembershipFactory(company=books.company, role=Role.APPROVER, user__username="ann")
    client.force_login(member.user)
    return member.user


def _whats(company):
    return [(c.by, c.area, c.what) for c in company_history(company=company)]


def test_a_role_change_and_a_removal_are_recorded_with_who(client, books, approver):
    bob = MembershipFactory(company=books.company, role=Role.VIEWER, user__username="bob").user
    url = reverse("company-member-change", args=[books.company.pk, bob.pk])

    client.post(url, {"role": Role.APPROVER})
    client.post(url, {"action": "remove"})

    whats = _whats(books.company)
    assert ("ann", "Access", "Changed bob from viewer to approver") in whats
    assert ("ann", "Access", "Removed bob") in whats
    assert not Membership.objects.filter(user=bob).exists()
    change = next(c for c in company_history(company=books.company) if c.what == "Removed bob")
    assert change.at is not None


def test_a_default_supplier_change_is_recorded_with_the_names(client, books, approver):
    old = books.company.configuration.supplier
    new = SupplierFactory(company=books.company, name="Amazon UK")

    response = client.post(
        reverse("company-configuration", args=[books.company.pk]),
        {"bank_account": books.card.pk, "supplier": new.pk, "customer": ""},
    )

    assert response.status_code == 302
    whats = _whats(books.company)
    assert any(
        by == "ann"
        and area == "Configuration"
        and f"default supplier changed from {old.name} to Amazon UK" in what
        for by, area, what in whats
    ), whats


def test_a_rule_edit_and_delete_are_recorded(client, books, approver):
    rule = CategorizationRule.objects.create(
        company=books.company, pattern="Pret", account=books.meals
    )
    rule.pattern = "Pret A Manger"
    rule.save()
    rule.delete()

    whats = [what for _, area, what in _whats(books.company) if area == "Rules"]
    assert whats == [
        "Deleted the rule for “Pret A Manger”",
        "Edited the rule for “Pret A Manger” (pattern)",
        "Created the rule for “Pret”",
    ]


def test_revoking_an_ingest_key_in_the_admin_is_recorded_with_the_staff_member(client, books):
    token, _ = ingest_token_create(name="Card feed", company=books.company, expires_at=None)
    staff = StaffFactory(is_superuser=True, username="sam")
    client.force_login(staff)

    response = client.post(
        reverse("admin:expenses_ingesttoken_change", args=[token.pk]),
        {
            "name": "Card feed",
            "company": books.company.pk,
            "expires_at_0": "",
            "expires_at_1": "",
            "revoked_at_0": "2026-12-08",
            "revoked_at_1": "10:00:00",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert IngestToken.objects.get(pk=token.pk).revoked_at is not None
    whats = _whats(books.company)
    assert (
        "sam (support)",
        "Ingest keys",
        f"Revoked the ingest key “Card feed” ({token.prefix}…)",
    ) in whats
    history = client.get(reverse("admin:expenses_ingesttoken_history", args=[token.pk]))
    assert history.status_code == 200


def test_the_change_history_page_shows_approvers_and_refuses_viewers(
    client, books, approver, django_assert_max_num_queries
):
    bob = MembershipFactory(company=books.company, role=Role.VIEWER, user__username="bob").user
    client.post(
        reverse("company-member-change", args=[books.company.pk, bob.pk]), {"role": "bookkeeper"}
    )
    for index in range(20):
        CategorizationRule.objects.create(
            company=books.company, pattern=f"Shop {index}", account=books.meals
        )

    with django_assert_max_num_queries(14):
        page = client.get(reverse("company-history", args=[books.company.pk]))

    text = page.content.decode()
    assert page.status_code == 200
    assert "Changed bob from viewer to bookkeeper" in text
    assert "Created the rule for “Shop 19”" in text
    client.force_login(bob)
    assert client.get(reverse("company-history", args=[books.company.pk])).status_code in (403, 404)


def test_configuration_saved_unchanged_adds_no_line(books):
    config = CompanyConfiguration.objects.get(company=books.company)
    before = len(company_history(company=books.company))

    config.save()

    assert len(company_history(company=books.company)) == before
