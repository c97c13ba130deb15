"""Pushing from the workspace: the push button and its live progress, read from our tables."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from companies.models import Company, Role
from companies.permissions import company_member_required
from expenses.forms import ExpenseLineFormSet, lines_from_formset
from expenses.models import Expense
from expenses.services import ExpenseRefused
from sfe_portal.http import CompanyHttpRequest
from syncs.claim import PushRefused
from syncs.corrections import (
    correction_allowed,
    expense_correct_request,
    expense_correction_preview,
)
from syncs.push_requests import company_push_start
from syncs.selectors import push_panel


def _panel(
    request: CompanyHttpRequest, company: Company, error: str = "", started: int = 0
) -> HttpResponse:
    """The push panel, with the queue's tab counts swapped out of band. `started`: how many
    expenses the push this request started takes."""
    panel = push_panel(company=company)
    context = {
        "company": company,
        "push": panel,
        "can_approve": request.company_role == Role.APPROVER,
        "push_error": error,
        "started": started,
    }
    response = render(request, "expenses/queue.html#push-progress", context)
    if request.GET.get("following") and not panel.in_flight:
        # The push the page was following has ended: the queue shows its rows as they now are.
        trigger_client_event(response, "push-ended")
    return response


@require_GET
@company_member_required()
def progress(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    return _panel(request, company)


@require_POST
@company_member_required(Role.APPROVER)
def start(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    try:
        waiting = company_push_start(company=company, by=request.user)
    except PushRefused as refused:
        if request.htmx:
            return _panel(request, company, error=str(refused))
        messages.error(request, str(refused))
        return redirect(reverse("expense-queue", args=[company.pk]))
    if request.htmx:
        return _panel(request, company, started=waiting)
    messages.success(request, f"Push started: {waiting} approved expenses.")
    return redirect(reverse("expense-queue", args=[company.pk]))


@require_POST
@company_member_required(Role.APPROVER)
def correct(request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID) -> HttpResponse:
    """Correct a synced expense: the first post shows the field-level difference, the second
    (confirmed) sends it through Codat's update endpoint via a task."""
    expense = get_object_or_404(
        Expense.objects.select_related("company"), company=company, pk=expense_id
    )
    detail = reverse("expense-detail", args=[company.pk, expense.pk])
    refusal = correction_allowed(expense=expense)
    if refusal:
        messages.error(request, f"{refusal.message} {refusal.fix}")
        return redirect(detail)
    formset = ExpenseLineFormSet(request.POST, form_kwargs={"company": company}, prefix="lines")
    if not formset.is_valid():
        messages.error(request, "Nothing was sent: the corrected lines have errors.")
        return redirect(detail)
    lines = lines_from_formset(formset)
    try:
        if request.POST.get("confirm") != "yes":
            changes = expense_correction_preview(expense=expense, lines=lines)
            context = {
                "company": company,
                "expense": expense,
                "changes": changes,
                "posted": request.POST,
            }
            return render(request, "syncs/correction.html", context)
        expense_correct_request(expense=expense, lines=lines, by=request.user)
    except ExpenseRefused as refused:
        messages.error(request, f"Nothing was sent: {refused}")
        return redirect(detail)
    messages.success(request, "Correction sent: the ledger record is being updated.")
    return redirect(detail)
