"""Pushing from the workspace: the push button and its live progress, read from our tables."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from companies.models import Company, Role
from companies.permissions import company_member_required
from sfe_portal.http import CompanyHttpRequest
from syncs.push import PushRefused, company_push_request
from syncs.selectors import push_panel


def _panel(request: CompanyHttpRequest, company: Company, error: str = "") -> HttpResponse:
    context = {
        "company": company,
        "push": push_panel(company=company),
        "can_approve": request.company_role == Role.APPROVER,
        "push_error": error,
    }
    return render(request, "expenses/queue.html#push-panel", context)


@require_GET
@company_member_required()
def progress(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    return _panel(request, company)


@require_POST
@company_member_required(Role.APPROVER)
def start(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    try:
        waiting = company_push_request(company=company, by=request.user)
    except PushRefused as refused:
        if request.htmx:
            return _panel(request, company, error=str(refused))
        messages.error(request, str(refused))
        return redirect(reverse("expense-queue", args=[company.pk]))
    if request.htmx:
        return _panel(request, company)
    messages.success(request, f"Pushing {waiting} approved expenses.")
    return redirect(reverse("expense-queue", args=[company.pk]))
