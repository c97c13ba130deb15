"""Writes and workflows on companies: lifecycle, connections and memberships."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from companies.models import (
    Company,
    CompanyStatus,
    Connection,
    ConnectionStatus,
    MasterData,
    Membership,
    NoticeChoice,
    Role,
)
from sfe_portal.transitions import StaleState, check_transition, transition_update

_C = CompanyStatus
COMPANY_TRANSITIONS: dict[str, frozenset[str]] = {
    _C.NEW: frozenset({_C.AWAITING_LINK, _C.ARCHIVED}),
    _C.AWAITING_LINK: frozenset({_C.PULLING, _C.DISCONNECTED, _C.ARCHIVED}),
    _C.PULLING: frozenset({_C.NEEDS_CONFIGURATION, _C.READY, _C.DISCONNECTED, _C.ARCHIVED}),
    _C.NEEDS_CONFIGURATION: frozenset({_C.PULLING, _C.READY, _C.DISCONNECTED, _C.ARCHIVED}),
    _C.READY: frozenset({_C.PULLING, _C.NEEDS_CONFIGURATION, _C.DISCONNECTED, _C.ARCHIVED}),
    # A re-linked connection resumes with a fresh pull of master data.
    _C.DISCONNECTED: frozenset({_C.AWAITING_LINK, _C.PULLING, _C.ARCHIVED}),
    _C.ARCHIVED: frozenset(),
}

_S = ConnectionStatus
CONNECTION_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.PENDING_AUTH: frozenset({_S.LINKED, _S.UNLINKED, _S.DEAUTHORIZED}),
    _S.LINKED: frozenset({_S.UNLINKED, _S.DEAUTHORIZED}),
    # Codat keeps the data of an unlinked or deauthorized connection; it can be linked again.
    _S.UNLINKED: frozenset({_S.LINKED, _S.PENDING_AUTH}),
    _S.DEAUTHORIZED: frozenset({_S.LINKED, _S.PENDING_AUTH}),
}


@transaction.atomic
def company_transition(*, company: Company, to: CompanyStatus) -> Company:
    current = CompanyStatus(company.status)
    check_transition("Company", COMPANY_TRANSITIONS, current, to)
    now = timezone.now()
    moved = transition_update(
        Company.objects.filter(pk=company.pk),
        entity="Company",
        transitions=COMPANY_TRANSITIONS,
        to=to,
        current=current,
        field="status",
        status_changed_at=now,
        updated_at=now,
    )
    if moved != 1:
        raise StaleState("Company", current)
    company.status, company.status_changed_at = to, now
    return company


@transaction.atomic
def connection_set_status(*, connection: Connection, status: ConnectionStatus) -> Connection:
    """Record the status Codat reports for a connection (a no-op when it has not changed)."""
    now = timezone.now()
    current = ConnectionStatus(connection.status)
    if current == status:
        Connection.objects.filter(pk=connection.pk).update(last_checked_at=now)
        connection.last_checked_at = now
        return connection
    check_transition("Connection", CONNECTION_TRANSITIONS, current, status)
    moved = transition_update(
        Connection.objects.filter(pk=connection.pk),
        entity="Connection",
        transitions=CONNECTION_TRANSITIONS,
        to=status,
        current=current,
        field="status",
        status_changed_at=now,
        last_checked_at=now,
    )
    if moved != 1:
        raise StaleState("Connection", current)
    connection.status, connection.status_changed_at = status, now
    connection.last_checked_at = now
    return connection


def membership_set_role(*, company: Company, user: User, role: Role) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        company=company, user=user, defaults={"role": role}
    )
    return membership


def membership_set_notices(*, membership: Membership, choice: NoticeChoice) -> Membership:
    """The member's own choice of what they hear of the company's failures."""
    Membership.objects.filter(pk=membership.pk).update(notices=choice)
    membership.notices = choice
    return membership


def company_record_error(*, company: Company, step: str, message: str) -> Company:
    """Keep the last failed step in plain words for the page, outside any rolled-back work."""
    now = timezone.now()
    Company.objects.filter(pk=company.pk).update(
        last_error_step=step[:32], last_error=message, last_error_at=now
    )
    company.last_error_step, company.last_error, company.last_error_at = step[:32], message, now
    return company


def company_clear_error(*, company: Company, step: str) -> Company:
    """Forget the error of `step` once it succeeded (an error of another step stays)."""
    if Company.objects.filter(pk=company.pk, last_error_step=step).update(
        last_error_step="", last_error="", last_error_at=None
    ):
        company.last_error_step, company.last_error, company.last_error_at = "", "", None
    return company


def master_data_changed(*, company: Company) -> uuid.UUID:
    """Give the company's master data a new version, so that what was cached of the old one
    is read afresh; called in the transaction that wrote the records."""
    version = uuid.uuid4()
    Company.objects.filter(pk=company.pk).update(master_data_version=version)
    company.master_data_version = version
    return version


def master_data_record_written(
    sender: type[MasterData], instance: MasterData, origin: Any = None, **_: Any
) -> None:
    """A record saved or deleted one at a time (admin, the demo, tests): a new version for its
    company, kept on the company object the record holds when it holds one. Records deleted
    with their company need none: the company goes too."""
    if isinstance(origin, Company):
        return
    if instance._meta.get_field("company").is_cached(instance):
        master_data_changed(company=instance.company)
    else:
        master_data_changed(company=Company(pk=instance.company_id))


@transaction.atomic
def membership_remove(*, company: Company, user: User) -> bool:
    """Take the user off the company; returns False when they were not a member."""
    # One at a time, so the removal is kept in the membership's history with who did it.
    membership = Membership.objects.filter(company=company, user=user).first()
    if membership is None:
        return False
    membership.delete()
    return True
