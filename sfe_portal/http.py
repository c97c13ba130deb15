"""Typed requests for views: what the middleware guarantees is on the request."""

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class AuthenticatedHttpRequest(HtmxHttpRequest):
    """A request behind LoginRequiredMiddleware: the user is always a signed-in `User`."""

    user: User


class CompanyHttpRequest(AuthenticatedHttpRequest):
    """A request that passed `company_member_required`: the user's role on the company."""

    company_role: str
