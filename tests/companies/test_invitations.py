"""Adding a member is an invitation by e-mail: the approver learns nothing about accounts
outside the company, and only the invitee's acceptance through the signed link makes or links
an account — never a staff one."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from companies.invitations import invitation_key
from companies.models import Invitation, Membership, Role
from tests.factories import (
    CompanyFactory,
    MembershipFactory,
    StaffFactory,
    SupportFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def company() -> Any:
    return CompanyFactory(name="Acme Ltd")


@pytest.fixture
def approver(client: Any, company: Any) -> Any:
    user = MembershipFactory(company=company, role=Role.APPROVER).user
    client.force_login(user)
    return user


def _invite(client: Any, company: Any, email: str, role: str = "bookkeeper") -> Any:
    return client.post(
        reverse("company-invite", args=[company.pk]), {"email": email, "role": role}, follow=True
    )


def _answer(response: Any, email: str) -> str:
    """What the page says about the invitation, with the address and the link taken out."""
    text = " ".join(str(m) for m in response.context["messages"])
    return re.sub(r"/invitations/[^/\"]+/", "/invitations/<key>/", text.replace(email, "<email>"))


def _link(email: str) -> str:
    invitation = Invitation.objects.get(email=email, accepted_at__isnull=True)
    return reverse("invitation-accept", args=[invitation_key(invitation=invitation)])


def test_inviting_answers_the_same_for_an_account_elsewhere_a_missing_one_and_staff(
    client, company, approver, django_capture_on_commit_callbacks
):
    elsewhere = MembershipFactory(user=UserFactory(email="them@other.example")).user
    StaffFactory(email="help@provider.example")
    answers = {}
    with django_capture_on_commit_callbacks(execute=True):
        for email in ("them@other.example", "nobody@nowhere.example", "help@provider.example"):
            response = _invite(client, company, email)
            assert response.status_code == 200
            answers[email] = _answer(response, email)

    assert len(set(answers.values())) == 1, answers
    assert "Invitation sent to <email>, valid for 7 days." in answers["them@other.example"]
    # Nobody was attached: the invitations wait for their invitees.
    assert list(company.memberships.values_list("user", flat=True)) == [approver.pk]
    assert not Membership.objects.filter(user=elsewhere, company=company).exists()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(answers)


def test_the_old_form_that_looked_users_up_is_gone(client, company, approver):
    UserFactory(username="ada", email="ada@example.com")

    response = client.post(
        reverse("company-invite", args=[company.pk]), {"user": "ada", "role": "approver"}
    )

    assert response.status_code == 400
    assert "No single active user" not in response.content.decode()
    assert company.memberships.count() == 1


def test_the_invitation_is_emailed_and_its_link_shown_on_the_settings_page(
    client, company, approver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _invite(client, company, " New.Person@Example.com ", role="viewer")

    invitation = Invitation.objects.get()
    link = _link("new.person@example.com")
    page = client.get(reverse("company-settings", args=[company.pk])).content.decode()
    (message,) = mail.outbox
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "new.person@example.com",
        Role.VIEWER,
        approver,
    )
    assert not invitation.invited_as_staff
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    assert message.to == ["new.person@example.com"]
    assert "Join Acme Ltd" in message.subject
    assert f"http://testserver{link}" in message.body
    assert f'value="http://testserver{link}"' in page


def test_a_new_address_makes_its_account_on_accepting_and_joins(client, company, approver):
    _invite(client, company, "new@example.com", role="bookkeeper")
    link = _link("new@example.com")
    client.logout()

    page = client.get(link).content.decode()
    response = client.post(
        link,
        {
            "username": "newbie",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
    )

    user = get_user_model().objects.get(username="newbie")
    assert "Join Acme Ltd" in page
    assert "Choose a username" in page
    assert response.status_code == 302
    assert (user.email, user.is_staff) == ("new@example.com", False)
    assert Membership.objects.get(company=company, user=user).role == Role.BOOKKEEPER
    assert client.get(reverse("company-detail", args=[company.pk])).status_code == 200
    assert client.get(link).status_code == 404  # used: the link is spent


def test_an_existing_account_signs_in_then_accepts(client, company, approver):
    invitee = UserFactory(username="ada", email="ada@example.com")
    _invite(client, company, "ADA@example.com", role="approver")
    link = _link("ada@example.com")
    client.logout()

    anonymous = client.get(link).content.decode()
    client.force_login(invitee)
    signed_in = client.get(link).content.decode()
    response = client.post(link)

    assert 'id="sign-in-to-accept"' in anonymous
    assert get_user_model().objects.filter(email__iexact="ada@example.com").count() == 1
    assert "Accept and join" in signed_in
    assert response.status_code == 302
    assert Membership.objects.get(company=company, user=invitee).role == Role.APPROVER


@pytest.mark.parametrize("staff_factory", [StaffFactory, SupportFactory])
def test_a_staff_account_cannot_accept(client, company, approver, staff_factory):
    staff = staff_factory(email="help@provider.example")
    _invite(client, company, "help@provider.example", role="approver")
    link = _link("help@provider.example")
    client.force_login(staff)

    page = client.get(link)
    accepting = client.post(link)

    assert page.status_code == 403
    assert "Staff accounts cannot join a company" in page.content.decode()
    assert accepting.status_code == 403
    assert not Membership.objects.filter(user=staff).exists()
    assert Invitation.objects.get().accepted_at is None


def test_another_account_cannot_take_the_invitation(client, company, approver):
    _invite(client, company, "ada@example.com")
    link = _link("ada@example.com")
    client.force_login(UserFactory(username="eve", email="eve@example.com"))

    response = client.post(link)

    assert response.status_code == 403
    assert "This invitation is for ada@example.com" in response.content.decode()
    assert company.memberships.count() == 1


def test_forged_expired_and_withdrawn_links_are_refused(client, company, approver):
    _invite(client, company, "ada@example.com")
    invitation = Invitation.objects.get()
    link = _link("ada@example.com")
    forged = reverse("invitation-accept", args=[invitation.token + ":forged"])

    assert client.get(forged).status_code == 404
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    assert client.get(link).status_code == 404
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() + timedelta(days=1)
    )
    client.post(reverse("company-invitation-withdraw", args=[company.pk, invitation.pk]))
    assert client.get(link).status_code == 404
    assert not Invitation.objects.exists()


def test_inviting_again_replaces_the_pending_invitation_and_its_link(client, company, approver):
    _invite(client, company, "ada@example.com", role="viewer")
    first = _link("ada@example.com")
    _invite(client, company, "ada@example.com", role="approver")

    assert client.get(first).status_code == 404
    assert Invitation.objects.get().role == Role.APPROVER


def test_only_those_who_may_invite_see_the_invitations_and_their_links(client, company, approver):
    _invite(client, company, "ada@example.com")
    client.force_login(MembershipFactory(company=company, role=Role.BOOKKEEPER).user)

    page = client.get(reverse("company-settings", args=[company.pk])).content.decode()

    assert "ada@example.com" not in page
    assert "/invitations/" not in page


def test_an_invitation_by_support_is_marked_and_needs_the_permission(client, company):
    from django.contrib.auth.models import Permission

    support = SupportFactory()
    client.force_login(support)
    refused = _invite(client, company, "ada@example.com")
    support.user_permissions.add(Permission.objects.get(codename="add_membership"))
    client.force_login(type(support).objects.get(pk=support.pk))
    _invite(client, company, "ada@example.com")

    assert refused.status_code == 403
    assert Invitation.objects.get().invited_as_staff
