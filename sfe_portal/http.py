"""Typed requests for views: what the middleware guarantees is on the request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

if TYPE_CHECKING:
    from companies.models import Company


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class AuthenticatedHttpRequest(HtmxHttpRequest):
    """A request behind LoginRequiredMiddleware: the user is always a signed-in `User`."""

    user: User


class CompanyHttpRequest(AuthenticatedHttpRequest):
    """A request that passed `company_member_required`: the user's role on the company."""

    company_role: str
    company: Company
