"""What every page of a company shows above its content: the page's view went through
`company_member_required`, which leaves the company on the request. The connection banner,
and for staff the note of what their permissions let them do here."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from companies.selectors import company_connection_problems
from companies.staff import staff_access


def company_banner(request: HttpRequest) -> dict[str, Any]:
    company = getattr(request, "company", None)
    if company is None or getattr(request, "htmx", False):
        return {}  # fragments never show the banner: spare them the query
    context: dict[str, Any] = {}
    access = staff_access(request.user)
    if access is not None:
        context["support_access"] = access
    problems = company_connection_problems(company=company)
    if problems:
        context["company_banner"] = problems
        context["company_banner_settings_url"] = reverse("company-settings", args=[company.pk])
    return context
