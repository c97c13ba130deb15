"""A company's syncs: the list, one sync's page, and "Retry failed items" with its progress."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from companies.models import Company, Role
from companies.permissions import company_member_required
from expenses.export import csv_response
from sfe_portal.http import CompanyHttpRequest
from syncs.claim import PushRefused
from syncs.dashboard import expenses_progress
from syncs.models import Sync
from syncs.retry import sync_retry_failed
from syncs.selectors import (
    SYNC_RESULT_EXPORT_COLUMNS,
    company_syncs_page,
    sync_detail,
    sync_expense_ids,
    sync_results_export_rows,
)


@require_GET
@company_member_required()
def sync_list(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    context = {
        "company": company,
        "page": company_syncs_page(company=company, page=request.GET.get("page", 1)),
    }
    return render(request, "syncs/list.html", context)


@require_GET
@company_member_required()
def sync_page(request: CompanyHttpRequest, company: Company, sync_pk: int) -> HttpResponse:
    detail = sync_detail(company=company, sync_pk=sync_pk)
    context = {
        "company": company,
        "detail": detail,
        "sync": detail.sync,
        "can_approve": request.company_role == Role.APPROVER,
        "progress": None,
    }
    return render(request, "syncs/detail.html", context)


@require_GET
@company_member_required()
def sync_results_csv(
    request: CompanyHttpRequest, company: Company, sync_pk: int
) -> StreamingHttpResponse:
    """The sync's per-transaction results as a CSV download, streamed."""
    sync = get_object_or_404(Sync, company=company, pk=sync_pk)
    return csv_response(
        filename=f"sync-{sync.codat_sync_id or sync.pk}-results.csv",
        header=SYNC_RESULT_EXPORT_COLUMNS,
        rows=sync_results_export_rows(sync=sync),
    )


@require_GET
@company_member_required()
def sync_progress(request: CompanyHttpRequest, company: Company, sync_pk: int) -> HttpResponse:
    sync = get_object_or_404(Sync, company=company, pk=sync_pk)
    context = {
        "company": company,
        "sync": sync,
        "progress": expenses_progress(expense_ids=sync_expense_ids(sync=sync)),
    }
    return render(request, "syncs/detail.html#retry-progress", context)


@require_POST
@company_member_required(Role.APPROVER)
def sync_retry(request: CompanyHttpRequest, company: Company, sync_pk: int) -> HttpResponse:
    sync = get_object_or_404(Sync.objects.select_related("company"), company=company, pk=sync_pk)
    error, sent, still = "", 0, 0
    try:
        sent, still = sync_retry_failed(sync=sync, by=request.user)
    except PushRefused as refused:
        error = str(refused)
    if request.htmx:
        context = {
            "company": company,
            "sync": sync,
            "progress": expenses_progress(expense_ids=sync_expense_ids(sync=sync)),
            "retry_error": error,
            "sent": sent,
            "still": still,
        }
        return render(request, "syncs/detail.html#retry-progress", context)
    if error:
        messages.error(request, f"Nothing was sent: {error}")
    else:
        messages.success(
            request,
            f"{sent} sent again"
            + (f"; {still} still need fixing in the workspace." if still else "."),
        )
    return redirect("sync-detail", company.pk, sync.pk)
