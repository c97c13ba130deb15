"""Invitations to join a company: made by an approver (or support with the permission), sent
by e-mail and shown on the settings page, accepted through a signed link.

Inviting answers the same whatever accounts exist, so an approver learns nothing about other
customers' users; only accepting the link makes or links an account, and never a staff one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from companies.models import Company, Invitation, Role
from companies.services import membership_set_role
from companies.staff import is_support

INVITATION_DAYS = 7
_SALT = "companies.invitation"


class InvitationRefused(Exception):
    """The link cannot be used (expired, used, withdrawn, or for another account)."""


def _signer() -> signing.Signer:
    return signing.Signer(salt=_SALT)


def invitation_key(*, invitation: Invitation) -> str:
    """The invitation's token signed with SECRET_KEY: what its link carries."""
    return _signer().sign(invitation.token)


def invitation_path(*, invitation: Invitation) -> str:
    return reverse("invitation-accept", args=[invitation_key(invitation=invitation)])


@transaction.atomic
def invitation_create(
    *, company: Company, email: str, role: Role, by: User, site: str
) -> Invitation:
    """Invite `email` to the company with `role`, replacing its pending invitation if any, and
    send the link by e-mail after commit. `site` is the portal's address the link starts with
    (scheme and host)."""
    from companies.tasks import invitation_send

    email = email.strip().lower()
    Invitation.objects.filter(company=company, email=email, accepted_at__isnull=True).delete()
    invitation = Invitation.objects.create(
        company=company,
        email=email,
        role=role,
        token=secrets.token_urlsafe(32),
        invited_by=by,
        invited_as_staff=is_support(by),
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    transaction.on_commit(lambda: invitation_send.delay(invitation.pk, site))
    return invitation


def invitation_mail_send(*, invitation_id: int, site: str) -> bool:
    """Send the invitation's link to its address; False when it is no longer pending."""
    invitation = (
        Invitation.objects.select_related("company")
        .filter(pk=invitation_id, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if invitation is None:
        return False
    link = site.rstrip("/") + invitation_path(invitation=invitation)
    role = Role(invitation.role).label.lower()
    send_mail(
        subject=f"Join {invitation.company.name} on SfE Portal",
        message=(
            f"You are invited to join {invitation.company.name} on SfE Portal as {role}.\n\n"
            f"Accept the invitation by {invitation.expires_at:%d %B %Y}:\n{link}\n\n"
            "If you did not expect this invitation, ignore this e-mail: nothing happens "
            "until the link is opened and accepted."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    return True


def invitations_pending(*, company: Company) -> list[Invitation]:
    return list(
        Invitation.objects.filter(
            company=company, accepted_at__isnull=True, expires_at__gt=timezone.now()
        ).order_by("email")
    )


def invitation_withdraw(*, company: Company, invitation_id: int) -> bool:
    deleted, _ = Invitation.objects.filter(
        company=company, pk=invitation_id, accepted_at__isnull=True
    ).delete()
    return deleted > 0


def invitation_for_key(*, key: str) -> Invitation | None:
    """The pending, unexpired invitation the link's key names; None for a forged, expired,
    used or withdrawn one."""
    try:
        token = _signer().unsign(key)
    except signing.BadSignature:
        return None
    return (
        Invitation.objects.select_related("company")
        .filter(token=token, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


@dataclass(frozen=True)
class Invitee:
    """Who may accept an invitation: the signed-in account, or a new one to make."""

    refusal: str = ""  # why the signed-in account may not accept it
    must_sign_in: bool = False  # an account has the address: sign in as it first


def invitation_invitee(*, invitation: Invitation, user: User | None) -> Invitee:
    """Shown only to whoever holds the link, which names the address: whether that address
    has an account is theirs to know."""
    if user is None:
        exists = (
            get_user_model().objects.filter(email__iexact=invitation.email, is_active=True).exists()
        )
        return Invitee(must_sign_in=exists)
    if is_support(user):
        return Invitee(
            refusal="Staff accounts cannot join a company: support sees companies through its "
            "permissions. Ask the company to invite another address."
        )
    if user.email.strip().lower() != invitation.email:
        return Invitee(
            refusal=f"This invitation is for {invitation.email}, and you are signed in as "
            f"{user.username}. Sign out and open the link again, or ask the company to invite "
            "your own address."
        )
    return Invitee()


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> None:
    """Make `user` a member with the invitation's role. Refused for a staff account or
    another address, and for an invitation used meanwhile."""
    invitee = invitation_invitee(invitation=invitation, user=user)
    if invitee.refusal:
        raise InvitationRefused(invitee.refusal)
    used = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        accepted_at=timezone.now(), accepted_by=user
    )
    if used != 1:
        raise InvitationRefused("This invitation was used meanwhile; ask for a new one.")
    membership_set_role(company=invitation.company, user=user, role=Role(invitation.role))


@transaction.atomic
def invitation_account_create(*, invitation: Invitation, username: str, password: str) -> User:
    """Make the account of an address that has none, with the invitation's address, and
    accept the invitation with it (a plain account: never staff)."""
    user = get_user_model().objects.create_user(
        username=username, email=invitation.email, password=password
    )
    invitation_accept(invitation=invitation, user=user)
    return user
