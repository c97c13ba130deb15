"""Each member chooses, on the company's settings page, what they hear of its failures: their
own choice only; the role's default until they do; support has no choice to make there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from companies.models import Membership, NoticeChoice, Role
from tests.factories import CompanyFactory, MembershipFactory, SupportFactory, UserFactory

pytestmark = pytest.mark.django_db


def _member(company, role: Role, notices: str = "") -> Membership:
    return MembershipFactory(company=company, role=role, notices=notices)


@pytest.mark.parametrize(
    ("role", "default"),
    [
        (Role.APPROVER, NoticeChoice.EVERY),
        (Role.BOOKKEEPER, NoticeChoice.NONE),
        (Role.VIEWER, NoticeChoice.NONE),
    ],
)
def test_a_member_sees_their_roles_default_until_they_choose(client, role, default):
    membership = _member(CompanyFactory(), role)
    client.force_login(membership.user)

    page = client.get(reverse("company-settings", args=[membership.company_id])).content.decode()

    assert 'id="notices"' in page
    index = NoticeChoice.values.index(default)
    assert f'value="{default}" id="id_notices_{index}" required checked' in page
    assert f"“{default.label}” is your role's default" in page
    assert f"By e-mail to {membership.user.email}" in page


def test_a_member_changes_their_own_choice_in_place(client):
    company = CompanyFactory()
    mine, theirs = _member(company, Role.APPROVER), _member(company, Role.APPROVER)
    client.force_login(mine.user)

    response = client.post(
        reverse("company-notices", args=[company.pk]),
        {"notices": NoticeChoice.DIGEST},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="notices"')
    assert "Saved: a daily digest of what is still failing." in fragment
    assert 'value="digest" id="id_notices_1" required checked' in fragment
    assert "your role's default" not in fragment
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.notices, theirs.notices) == (NoticeChoice.DIGEST, "")


def test_without_htmx_the_choice_is_saved_and_the_page_comes_back(client):
    membership = _member(CompanyFactory(), Role.VIEWER)
    client.force_login(membership.user)

    response = client.post(
        reverse("company-notices", args=[membership.company_id]),
        {"notices": NoticeChoice.EVERY},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse(
        "company-settings", args=[membership.company_id]
    )
    assert "Saved: every failure, as it happens." in response.content.decode()
    membership.refresh_from_db()
    assert membership.notice_choice == NoticeChoice.EVERY


def test_a_choice_not_offered_is_refused_naming_the_field(client):
    membership = _member(CompanyFactory(), Role.APPROVER)
    client.force_login(membership.user)

    response = client.post(
        reverse("company-notices", args=[membership.company_id]),
        {"notices": "loud"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 400
    assert "Notices: choose every failure, a daily digest or nothing." in response.content.decode()
    membership.refresh_from_db()
    assert membership.notices == ""


def test_support_hears_as_support_and_has_no_choice_to_make(client):
    company = CompanyFactory()
    client.force_login(SupportFactory())

    page = client.get(reverse("company-settings", args=[company.pk])).content.decode()
    refused = client.post(reverse("company-notices", args=[company.pk]), {"notices": "every"})

    assert "As support you hear of disconnections and stalled pushes at every company" in page
    assert 'name="notices"' not in page
    assert refused.status_code == 403


def test_someone_elses_company_answers_404(client):
    client.force_login(UserFactory())
    company = CompanyFactory()

    response = client.post(reverse("company-notices", args=[company.pk]), {"notices": "every"})

    assert response.status_code == 404
