"""Access checks for company-scoped views.

A company the user may not see answers 404, never 403, so ids of other customers' data leak
nothing. A company the user sees with too small a role answers 403 naming the role needed (or,
for staff, the permission).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Concatenate

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from companies.models import Company, Role
from companies.selectors import company_visible_with_role, role_allows
from companies.staff import (
    ACT_ON_EVERY_COMPANY,
    StaffPermission,
    is_support,
    permission_refusal,
    staff_access,
    staff_may,
    staff_write_record,
)
from sfe_portal.http import CompanyHttpRequest

CompanyView = Callable[Concatenate[CompanyHttpRequest, Company, ...], HttpResponseBase]


def company_member_required(
    role: Role = Role.VIEWER,
    *,
    staff_permission: StaffPermission | tuple[StaffPermission, ...] | None = None,
) -> Callable[[CompanyView], Callable[..., HttpResponseBase]]:
    """Resolve the `company_id` URL argument to a company the user may act on with `role`.

    The view receives the company as its second argument and finds the user's role on
    `request.company_role`. Staff act with the role their permissions give them
    (companies.staff); with `staff_permission`, staff need one of those permissions instead
    of the role (managing members, finishing an onboarding). Every write a staff account
    makes through such a view goes on the company's admin history as made by support.
    """
    staff_permissions = (
        (staff_permission,) if isinstance(staff_permission, StaffPermission) else staff_permission
    )

    def decorator(view: CompanyView) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(
            request: CompanyHttpRequest, company_id: int, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            company, user_role = company_visible_with_role(user=request.user, company_id=company_id)
            if company is None:
                raise Http404("No company with that id is visible to you.")
            support = is_support(request.user)
            if support and staff_permissions:
                if not any(staff_may(request.user, p) for p in staff_permissions):
                    raise PermissionDenied(permission_refusal(staff_permissions[0]))
            elif not role_allows(user_role, needed=role):
                if support:
                    raise PermissionDenied(permission_refusal(ACT_ON_EVERY_COMPANY))
                raise PermissionDenied(
                    f"This needs the {role.label.lower()} role on {company.name}; "
                    "ask an approver of the company to change your role."
                )
            assert user_role is not None  # a visible company comes with a role
            request.company_role = user_role
            # Kept for the company banner (companies.context_processors) on every company page.
            request.company = company
            response = view(request, company, *args, **kwargs)
            if support and request.method not in SAFE_METHODS and response.status_code < 400:
                staff_write_record(user=request.user, obj=company, message=_write_named(request))
            return response

        return wrapper

    return decorator


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _write_named(request: HttpRequest) -> str:
    match = request.resolver_match
    name = match.url_name if match is not None and match.url_name else "a change"
    return f"{name} ({request.method} {request.path})"


def staff_permission_required(
    permission: StaffPermission,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Support-only pages (connecting a company, the sync health dashboard): a staff account
    with `permission`; 403 with the reason for everyone else."""

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not is_support(request.user):
                raise PermissionDenied(f"Only support staff can {permission.grants}.")
            if not staff_may(request.user, permission):
                raise PermissionDenied(permission_refusal(permission))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@dataclass(frozen=True)
class MemberPowers:
    invite: bool
    change: bool
    remove: bool


def member_powers(*, user: Any, role: Role) -> MemberPowers:
    """What the user may do to a company's members: approvers everything; staff what each of
    the membership permissions allows, whatever their role."""
    access = staff_access(user)
    if access is not None:
        return MemberPowers(
            invite=access.invites, change=access.changes_members, remove=access.removes_members
        )
    approver = role == Role.APPROVER
    return MemberPowers(invite=approver, change=approver, remove=approver)
