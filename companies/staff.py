"""What a staff account (support) may see and do in the portal.

A staff account's Django permissions decide, never the staff flag alone, and the same
permissions gate the admin. Staff act only through their permissions: memberships give a staff
account nothing (and an invitation accepted by one is refused), so support cannot be made a
company's approver by a customer.

- `companies.view_company`: see every company, its expenses, rules, syncs and settings, and
  the sync health dashboard; change nothing.
- `companies.change_company` (what the admin's "Push approved expenses now" needs): also code,
  approve and push expenses, edit rules and the configuration, refresh master data, retry
  failed items in every company, and the dashboard's bulk "Retry once fixed".
- `companies.add_company`: connect a company.
- `companies.add_membership` / `change_membership` / `delete_membership`: invite members,
  change their roles, remove them.

Every write a staff account makes in the portal is recorded as made by support: expense events
carry `as_staff`, and each company write is also logged on the company's admin history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from companies.models import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User
    from django.db.models import Model


@dataclass(frozen=True)
class StaffPermission:
    codename: str  # "app_label.codename", as `User.has_perm` takes it
    label: str  # its name in the admin's permission list
    grants: str  # what it lets support do, completing "… to …"
    implied_by: tuple[str, ...] = ()  # permissions that grant this one too


ACT_ON_EVERY_COMPANY = StaffPermission(
    "companies.change_company",
    "Can change company",
    "code, approve and push expenses, edit rules and the configuration, and retry failed items",
)
SEE_EVERY_COMPANY = StaffPermission(
    "companies.view_company",
    "Can view company",
    "see every company and the sync health dashboard",
    # As in the admin, which shows what a user may change.
    implied_by=(ACT_ON_EVERY_COMPANY.codename,),
)
CONNECT_COMPANIES = StaffPermission("companies.add_company", "Can add company", "connect a company")
INVITE_MEMBERS = StaffPermission("companies.add_membership", "Can add membership", "invite members")
CHANGE_MEMBERS = StaffPermission(
    "companies.change_membership", "Can change membership", "change members' roles"
)
REMOVE_MEMBERS = StaffPermission(
    "companies.delete_membership", "Can delete membership", "remove members"
)

# The groups the data migration creates (companies/migrations/0007_support_groups.py keeps a
# copy): both may view every model of SUPPORT_APPS; "Support" also works on companies'
# expenses, connects companies and runs the admin's support actions. Neither manages members:
# that is granted to a person on purpose, with the membership permissions. The gateway's
# models were syncs' when the groups were made; their permissions moved with them
# (gateway/migrations/0002_content_types_from_syncs.py).
SUPPORT_APPS = ("accounts", "gateway", "companies", "expenses", "syncs")
SUPPORT_GROUPS: dict[str, tuple[str, ...]] = {
    "Support (read-only)": (),
    "Support": (
        ACT_ON_EVERY_COMPANY.codename,
        CONNECT_COMPANIES.codename,
        "syncs.change_sync",  # the admin's re-poll and receipt re-upload
        "syncs.change_receiptupload",
        "accounts.change_signinlockout",  # lifting a sign-in lock
    ),
}


def is_support(user: User | AnonymousUser) -> bool:
    """A signed-in, active staff account: its permissions, not memberships, give it access."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def staff_may(user: User | AnonymousUser, permission: StaffPermission) -> bool:
    return is_support(user) and any(
        user.has_perm(codename) for codename in (permission.codename, *permission.implied_by)
    )


def staff_company_role(user: User | AnonymousUser) -> Role | None:
    """The role a staff account has on every company, from its permissions; None when it may
    see none. Changing a company implies seeing it, as in the admin."""
    if staff_may(user, ACT_ON_EVERY_COMPANY):
        return Role.APPROVER
    if staff_may(user, SEE_EVERY_COMPANY):
        return Role.VIEWER
    return None


def permission_refusal(permission: StaffPermission) -> str:
    """Why support is refused, and what to ask for."""
    return (
        f"You are signed in as support: doing this needs the “{permission.label}” permission "
        f"(to {permission.grants}). Ask an administrator for it."
    )


@dataclass(frozen=True)
class StaffAccess:
    """What a staff account may do on a company's pages, for the note they show."""

    acts: bool
    invites: bool
    changes_members: bool
    removes_members: bool

    @property
    def note(self) -> str:
        if self.acts:
            return (
                "You are working as support: what you change here is recorded as made by support."
            )
        return (
            "You are viewing as support: read-only. Ask for the "
            f"“{ACT_ON_EVERY_COMPANY.label}” permission to {ACT_ON_EVERY_COMPANY.grants}."
        )

    @property
    def members_note(self) -> str:
        missing = [
            p
            for p, allowed in (
                (INVITE_MEMBERS, self.invites),
                (CHANGE_MEMBERS, self.changes_members),
                (REMOVE_MEMBERS, self.removes_members),
            )
            if not allowed
        ]
        if not missing:
            return ""
        asks = "; ".join(f"“{p.label}” to {p.grants}" for p in missing)
        return f"As support you need a permission for each change to members: {asks}."


def staff_access(user: User | AnonymousUser) -> StaffAccess | None:
    """What a staff account may do on any company it sees; None for everyone else."""
    if not is_support(user):
        return None
    return StaffAccess(
        acts=staff_may(user, ACT_ON_EVERY_COMPANY),
        invites=staff_may(user, INVITE_MEMBERS),
        changes_members=staff_may(user, CHANGE_MEMBERS),
        removes_members=staff_may(user, REMOVE_MEMBERS),
    )


def staff_write_record(*, user: User, obj: Model, message: str, added: bool = False) -> None:
    """Put a write support made in the portal on the object's admin history, marked as made
    by support (the admin records its own writes there already)."""
    from django.contrib.admin.models import ADDITION, CHANGE, LogEntry

    LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[obj],
        action_flag=ADDITION if added else CHANGE,
        change_message=f"As support, in the portal: {message}"[:1000],
        single_object=True,
    )
