"""The connection banner on every page of a company: the page's view went through
`company_member_required`, which leaves the company on the request."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from companies.selectors import company_connection_problems


def company_banner(request: HttpRequest) -> dict[str, Any]:
    company = getattr(request, "company", None)
    if company is None or getattr(request, "htmx", False):
        return {}  # fragments never show the banner: spare them the query
    problems = company_connection_problems(company=company)
    if not problems:
        return {}
    return {
        "company_banner": problems,
        "company_banner_settings_url": reverse("company-settings", args=[company.pk]),
    }
