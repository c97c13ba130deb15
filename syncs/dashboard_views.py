"""The sync health dashboard (support staff) and its cause drill-down with the bulk retry."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from companies.permissions import staff_permission_required
from companies.staff import ACT_ON_EVERY_COMPANY, SEE_EVERY_COMPANY, permission_refusal, staff_may
from sfe_portal.http import AuthenticatedHttpRequest
from syncs.dashboard import (
    DashboardFilters,
    cause_expense_ids,
    cause_transactions,
    dashboard_build,
    dashboard_search,
    expenses_progress,
)
from syncs.forms import DashboardFilterForm
from syncs.retry import expenses_retry_failed

FILTER_KEYS = ("start", "end", "platform", "code")


def _filters(request: AuthenticatedHttpRequest) -> tuple[DashboardFilterForm, DashboardFilters]:
    today = timezone.localdate()
    params = request.GET.copy()
    for key in ("q", "sort", "page"):
        params.pop(key, None)
    form = DashboardFilterForm(params or None, today=today)
    filters = form.filters()
    if not form.is_bound:
        # Show the range in force rather than empty fields.
        form = DashboardFilterForm(
            initial={"start": filters.start, "end": filters.end, "per_page": 25}, today=today
        )
    return form, filters


def _filter_query(filters: DashboardFilters) -> QueryDict:
    query = QueryDict(mutable=True)
    query["start"] = filters.start.isoformat()
    query["end"] = filters.end.isoformat()
    if filters.platform:
        query["platform"] = filters.platform
    if filters.status_code is not None:
        query["code"] = str(filters.status_code)
    return query


def _admin_range(filters: DashboardFilters, field: str) -> dict[str, str]:
    """Admin changelist lookups for the range (local date-time fields only)."""
    return {
        f"{field}__gte": filters.since.isoformat(sep=" "),
        f"{field}__lt": filters.until.isoformat(sep=" "),
    }


def _drilldowns(filters: DashboardFilters) -> dict[str, str]:
    """Where each KPI leads: the admin lists filtered as the figure was counted."""

    def url(name: str, params: dict[str, str]) -> str:
        query = QueryDict(mutable=True)
        query.update(params)
        return f"{reverse(name)}?{query.urlencode()}"

    syncs = _admin_range(filters, "requested_at")
    failures = {"status__in": "ValidationError,PushError", **_admin_range(filters, "fetched_at")}
    if filters.platform:
        syncs["company__platform__exact"] = filters.platform
        failures["sync__company__platform__exact"] = filters.platform
    if filters.status_code is not None:
        syncs["status_code__exact"] = str(filters.status_code)
        failures["sync__status_code"] = str(filters.status_code)
    stuck = {"stuck": "yes"}
    backlog = {"status__exact": "approved"}
    on_v1 = {"to_move": "v1"}
    if filters.platform:
        stuck["company__platform__exact"] = filters.platform
        backlog["company__platform__exact"] = filters.platform
        on_v1["platform__exact"] = filters.platform
    return {
        "syncs": url("admin:syncs_sync_changelist", syncs),
        "succeeded": url("admin:syncs_sync_changelist", {**syncs, "state__exact": "succeeded"}),
        "failed_syncs": url("admin:syncs_sync_changelist", {**syncs, "state__exact": "failed"}),
        "synced": url(
            "admin:syncs_synctransaction_changelist",
            {
                "status__exact": "Completed",
                **_admin_range(filters, "fetched_at"),
                **(
                    {"sync__company__platform__exact": filters.platform} if filters.platform else {}
                ),
            },
        ),
        "failures": url("admin:syncs_synctransaction_changelist", failures),
        "stuck": url("admin:syncs_sync_changelist", stuck),
        "backlog": url("admin:expenses_expense_changelist", backlog),
        "still_on_v1": url("admin:companies_company_changelist", on_v1),
    }


def _day_links(filters: DashboardFilters, days: list[str]) -> list[str]:
    """For each day of the chart, the admin list of that day's syncs (a bar is clickable)."""
    from datetime import date

    links = []
    base = reverse("admin:syncs_sync_changelist")
    for day in days:
        one_day = DashboardFilters(
            start=date.fromisoformat(day),
            end=date.fromisoformat(day),
            platform=filters.platform,
            status_code=filters.status_code,
        )
        query = QueryDict(mutable=True)
        query.update(_admin_range(one_day, "requested_at"))
        if filters.platform:
            query["company__platform__exact"] = filters.platform
        if filters.status_code is not None:
            query["status_code__exact"] = str(filters.status_code)
        links.append(f"{base}?{query.urlencode()}")
    return links


@require_GET
@staff_permission_required(SEE_EVERY_COMPANY)
@vary_on_headers("HX-Request")
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    if query:
        hit = dashboard_search(query=query)
        if hit is not None and hit.sync_pk is not None:
            return redirect("sync-detail", hit.company_id, hit.sync_pk)
        if hit is not None:
            return redirect("sync-list", hit.company_id)
        messages.warning(
            request,
            f"Search: no sync or company has the id “{query[:100]}”. Enter a Codat sync id, "
            "a Codat company id or the portal's company number.",
        )
    form, filters = _filters(request)
    now = timezone.now()
    board = dashboard_build(
        filters=filters,
        now=now,
        sort=request.GET.get("sort", "score"),
        page=request.GET.get("page", 1),
        per_page=(form.cleaned_data.get("per_page") or 25)
        if form.is_bound and form.is_valid()
        else 25,
    )
    board.chart["day_links"] = _day_links(filters, board.chart["labels"])
    filter_query = _filter_query(filters)
    context = {
        "form": form,
        "board": board,
        "q": query,
        "filter_query": filter_query.urlencode(),
        "links": _drilldowns(filters),
        "sort_query": _with(request.GET, drop=("sort", "page", "q")),
        "page_query": _with(request.GET, drop=("page", "q")),
    }
    template = "syncs/dashboard.html#dashboard-body" if request.htmx else "syncs/dashboard.html"
    return render(request, template, context)


def _with(params: QueryDict, *, drop: tuple[str, ...]) -> str:
    copy = params.copy()
    for key in drop:
        copy.pop(key, None)
    return copy.urlencode()


def _cause_context(request: AuthenticatedHttpRequest, params: QueryDict) -> dict[str, Any]:
    form = DashboardFilterForm(params, today=timezone.localdate())
    filters = form.filters()
    cause = params.get("cause", "")
    query = _filter_query(filters)
    query["cause"] = cause
    return {"filters": filters, "cause": cause, "cause_query": query.urlencode()}


@require_GET
@staff_permission_required(SEE_EVERY_COMPANY)
def cause_detail(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = _cause_context(request, request.GET)
    if not context["cause"]:
        messages.error(request, "Cause: choose a cause from the dashboard's failures table.")
        return redirect("dashboard")
    context["transactions"] = cause_transactions(filters=context["filters"], cause=context["cause"])
    context["progress"] = None
    can_retry = staff_may(request.user, ACT_ON_EVERY_COMPANY)
    context["retry_refusal"] = "" if can_retry else permission_refusal(ACT_ON_EVERY_COMPANY)
    return render(request, "syncs/cause.html", context)


@require_GET
@staff_permission_required(SEE_EVERY_COMPANY)
def cause_progress(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = _cause_context(request, request.GET)
    ids = cause_expense_ids(filters=context["filters"], cause=context["cause"])
    context["progress"] = expenses_progress(expense_ids=ids)
    return render(request, "syncs/cause.html#retry-progress", context)


@require_POST
@staff_permission_required(ACT_ON_EVERY_COMPANY)
def cause_retry(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Send again every failed expense of the cause that is valid now ("retry once fixed")."""
    context = _cause_context(request, request.POST)
    ids = cause_expense_ids(filters=context["filters"], cause=context["cause"])
    outcome = expenses_retry_failed(
        expense_ids=ids, by=request.user, reason=f"Sent again for the cause: {context['cause']}"
    )
    context["outcome"] = outcome
    context["progress"] = expenses_progress(expense_ids=ids)
    if request.htmx:
        return render(request, "syncs/cause.html#retry-progress", context)
    messages.success(request, f"{outcome.sent} sent again; {outcome.still} still need fixing.")
    for refusal in outcome.refused:
        messages.warning(request, refusal)
    return redirect(f"{reverse('dashboard-cause')}?{context['cause_query']}")
