"""Pushing from the workspace: the push button and its live progress, read from our tables."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from companies.models import Company, Role, SwitchChannel
from companies.permissions import company_member_required
from companies.platforms import ApiGeneration
from companies.staff import ACT_ON_EVERY_COMPANY, is_support
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
from syncs.cutover import API_NAMES, expenses_api_switch
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


def _move_target(request: CompanyHttpRequest, company: Company) -> str | None:
    """The generation asked for (`to`), else the one the company does not speak; None when
    `to` names none."""
    asked = (request.POST if request.method == "POST" else request.GET).get("to")
    if asked is None:
        return (
            ApiGeneration.EXPENSES if company.expenses_api == ApiGeneration.V1 else ApiGeneration.V1
        )
    return asked if asked in ApiGeneration.values else None


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
@company_member_required(Role.APPROVER, staff_permission=ACT_ON_EVERY_COMPANY)
def expenses_api_move(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    """Support moves the company to the other generation of Codat's expenses API: a GET shows
    what would happen (the dry run) and asks to confirm; the POST of that confirmation moves
    it, or says why not (`syncs.cutover`)."""
    if not is_support(request.user):
        raise PermissionDenied(
            "Only support staff move a company between Codat's expenses APIs: ask support."
        )
    to = _move_target(request, company)
    if to is None:
        messages.error(request, "To: choose v1 or expenses (the newer Expenses API).")
        settings_page = reverse("company-settings", args=[company.pk])
        if request.htmx:
            return HttpResponseClientRedirect(settings_page)
        return redirect(settings_page)
    moving = request.method == "POST"
    report = expenses_api_switch(
        company, to, by_user=request.user, dry_run=not moving, via=SwitchChannel.PORTAL
    )
    if moving and not request.htmx:
        level = messages.WARNING if report.refused else messages.SUCCESS
        messages.add_message(request, level, " ".join(report.lines()))
        return redirect("company-settings", company.pk)
    context = {
        "company": company,
        "report": report,
        "to": to,
        "to_label": API_NAMES[ApiGeneration(to)],
        "moved": moving and report.switch is not None,
    }
    template = "syncs/expenses_api.html#move" if request.htmx else "syncs/expenses_api.html"
    # A refusal is swapped in like any answer (htmx leaves 4xx answers out of the page).
    return render(request, template, context)
