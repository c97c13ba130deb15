"""Access checks for company-scoped views.

A company the user may not see answers 404, never 403, so ids of other customers' data leak
nothing. A company the user sees with too small a role answers 403 naming the role needed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.http.response import HttpResponseBase

from companies.models import Company, Role
from companies.selectors import company_visible_with_role, role_allows
from sfe_portal.http import CompanyHttpRequest

CompanyView = Callable[Concatenate[CompanyHttpRequest, Company, ...], HttpResponseBase]


def company_member_required(
    role: Role = Role.VIEWER,
) -> Callable[[CompanyView], Callable[..., HttpResponseBase]]:
    """Resolve the `company_id` URL argument to a company the user may act on with `role`.

    The view receives the company as its second argument and finds the user's role on
    `request.company_role`.
    """

    def decorator(view: CompanyView) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(
            request: CompanyHttpRequest, company_id: int, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            company, user_role = company_visible_with_role(user=request.user, company_id=company_id)
            if company is None:
                raise Http404("No company with that id is visible to you.")
            if not role_allows(user_role, needed=role):
                raise PermissionDenied(
                    f"This needs the {role.label.lower()} role on {company.name}; "
                    "ask an approver of the company to change your role."
                )
            assert user_role is not None  # role_allows() refused None above
            request.company_role = user_role
            # Kept for the company banner (companies.context_processors) on every company page.
            request.company = company
            return view(request, company, *args, **kwargs)

        return wrapper

    return decorator


def staff_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Support-only pages (connecting a company): 403 with the reason for everyone else."""

    @wraps(view)
    def wrapper(request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not (request.user.is_authenticated and request.user.is_staff):
            raise PermissionDenied("Only support staff can connect a company.")
        return view(request, *args, **kwargs)

    return wrapper
