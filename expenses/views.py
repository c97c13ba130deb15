"""The categorization workspace: the queue, inline coding, bulk actions, the expense page,
merchant rules and history suggestions; and the companies pages, which show each company's
expense counts (the companies app, a layer below, cannot read them)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from companies.models import Company, Role
from companies.permissions import company_member_required
from expenses.bulk import (
    BulkOutcome,
    expenses_bulk_approve,
    expenses_bulk_code,
    expenses_bulk_exclude,
)
from expenses.coding import UNSET, expense_set_coding, expense_set_lines
from expenses.details import expense_update_details
from expenses.export import csv_response, xlsx_response
from expenses.forms import (
    BulkActionForm,
    ExpenseDetailsForm,
    ExpenseLineFormSet,
    InlineCodingForm,
    QueueFilterForm,
    RuleForm,
    lines_from_formset,
)
from expenses.history import company_history
from expenses.models import CategorizationRule, Expense, ExpenseStatus, Receipt
from expenses.receipts import (
    receipt_accept_attribute,
    receipt_accepted_formats,
    receipt_add,
    receipt_limits,
    receipt_remove,
    receipt_signed_url,
    receipts_refused,
)
from expenses.rules import (
    PRECEDENCE,
    rule_apply_to_matching,
    rule_condition,
    rule_delete,
    rule_move,
    rule_save,
    rule_set_active,
    rules_page,
    rules_run_all,
)
from expenses.selectors import (
    BULK_LIMIT,
    EXPENSE_EXPORT_COLUMNS,
    PAGE_SIZES,
    CodingChoices,
    coding_choices,
    company_list_overview,
    company_overview,
    expense_of_company,
    expense_queue,
    queue_counts,
    queue_export_rows,
    queue_matching_count,
    queue_matching_ids,
    queue_row,
)
from expenses.services import (
    ExpenseRefused,
    expense_approve,
    expense_exclude,
    expense_restore,
)
from expenses.suggestions import expense_suggestions
from expenses.validation import Problem
from sfe_portal.http import AuthenticatedHttpRequest, CompanyHttpRequest
from sfe_portal.money import to_precision
from sfe_portal.security import framed_by_own_pages
from sfe_portal.transitions import IllegalTransition, StaleState
from syncs.corrections import correction_allowed
from syncs.selectors import ExpenseDetail, expense_detail, push_panel


@require_GET
@vary_on_headers("HX-Request")
def company_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:200]
    listing = company_list_overview(
        user=request.user, search=search, page=request.GET.get("page", "1")
    )
    page = listing.page
    context = {
        "rows": listing.rows,
        "page": page,
        "search": search,
        "previous_url": _list_url(search, page.previous_page_number())
        if page.has_previous()
        else "",
        "next_url": _list_url(search, page.next_page_number()) if page.has_next() else "",
    }
    template = "companies/list.html#company-list" if request.htmx else "companies/list.html"
    return render(request, template, context)


def _list_url(search: str, page: int) -> str:
    """A page of the company list, with the search it shows."""
    query = {"q": search} if search else {}
    if page > 1:
        query["page"] = str(page)
    return reverse("home") + (f"?{urlencode(query)}" if query else "")


@require_GET
@company_member_required(Role.APPROVER)
def company_history_page(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    """Who changed the company's access and configuration, and when (approvers and support)."""
    context = {"company": company, "changes": company_history(company=company)}
    return render(request, "companies/history.html", context)


@require_GET
@company_member_required()
def company_detail(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    overview = company_overview(company=company)
    context = {"company": company, "overview": overview, "role": request.company_role}
    return render(request, "companies/detail.html", context)


@require_GET
@vary_on_headers("HX-Request")
@company_member_required()
def queue(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    form = QueueFilterForm(request.GET)
    form.is_valid()
    page = expense_queue(company=company, filters=form.filters())
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "company": company,
        "page": page,
        "choices": page.choices,
        "form": form,
        "page_sizes": PAGE_SIZES,
        "push": push_panel(company=company, ready_to_push=page.approved_count),
        "role": request.company_role,
        "can_code": request.company_role in (Role.BOOKKEEPER, Role.APPROVER),
        "can_approve": request.company_role == Role.APPROVER,
        "query": query,
        "next_query": _with(query, after=page.next_cursor) if page.next_cursor else "",
    }
    template = "expenses/queue.html#queue-body" if request.htmx else "expenses/queue.html"
    return render(request, template, context)


@require_GET
@company_member_required()
def queue_export(
    request: CompanyHttpRequest, company: Company, file_format: str
) -> HttpResponseBase:
    """The queue's tab and filters as a CSV (streamed) or XLSX download: every matching row,
    not one page; anyone who may see the queue may download it."""
    if file_format not in ("csv", "xlsx"):
        raise Http404("Downloads are CSV or XLSX.")
    form = QueueFilterForm(request.GET)
    form.is_valid()
    filters = form.filters()
    rows = queue_export_rows(company=company, filters=filters)
    filename = f"{slugify(company.name) or 'company'}-expenses-{filters.tab}-{timezone.localdate()}"
    write = csv_response if file_format == "csv" else xlsx_response
    return write(filename=f"{filename}.{file_format}", header=EXPENSE_EXPORT_COLUMNS, rows=rows)


@require_GET
@company_member_required()
def matching(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    """The bulk bar's "all N matching the filters", fetched when the bar first opens."""
    form = QueueFilterForm(request.GET)
    form.is_valid()
    context = {"matching": queue_matching_count(company=company, filters=form.filters())}
    return render(request, "expenses/queue.html#bulk-matching", context)


def _with(query: QueryDict, **changes: str) -> str:
    copy = query.copy()
    for name, value in changes.items():
        copy[name] = value
    return copy.urlencode()


def _row_response(
    request: CompanyHttpRequest,
    company: Company,
    expense_id: uuid.UUID,
    refusal: list[Problem] | None = None,
    *,
    choices: CodingChoices | None = None,
    changed: Expense | None = None,
    status_before: str | None = None,
) -> HttpResponse:
    """The re-rendered row; `changed`: the expense as a service that succeeded left it.

    `status_before`: the row's status before a change that succeeded. When the row moved to
    another status, the tab counts come too, and the push panel when an approved expense came
    or went (swapped out of band)."""
    choices = choices or coding_choices(company=company)
    row = queue_row(company=company, expense_id=expense_id, choices=choices, expense=changed)
    context: dict[str, Any] = {
        "company": company,
        "rows": [row],
        "choices": choices,
        "can_code": request.company_role in (Role.BOOKKEEPER, Role.APPROVER),
        "can_approve": request.company_role == Role.APPROVER,
        "refusal": refusal or [],
    }
    if status_before is not None and status_before != row.expense.status:
        context["counts"], approved = queue_counts(company=company)
        if ExpenseStatus.APPROVED in (status_before, row.expense.status):
            context["push"] = push_panel(company=company, ready_to_push=approved)
    return render(request, "expenses/queue.html#queue-row", context)


def _expense(company: Company, expense_id: uuid.UUID, *, for_row: bool = False) -> Expense:
    expense = expense_of_company(company=company, expense_id=expense_id, for_row=for_row)
    if expense is None:
        raise Http404("No expense with that id in this company.")
    expense.company = company  # the request's: what this request read about it is kept there
    return expense


@require_GET
@company_member_required()
def row(request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID) -> HttpResponse:
    """One row as it is now: a row the push took shows its new status when the push ends."""
    return _row_response(request, company, _expense(company, expense_id).pk)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def code(request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID) -> HttpResponse:
    """Inline coding of one row: answers the re-rendered row with its validation state."""
    expense = _expense(company, expense_id, for_row=True)
    before = expense.status
    choices = coding_choices(company=company)
    form = InlineCodingForm(request.POST, choices=choices)
    if not form.is_valid():
        refusal = [
            Problem(name, str(errors[0]), "Choose one of the options offered for this expense.")
            for name, errors in form.errors.items()
        ]
        return _row_response(request, company, expense.pk, refusal, choices=choices)
    try:
        expense_set_coding(
            expense=expense,
            by=request.user,
            account=form.cleaned_data["account"],
            tax_rate=form.cleaned_data["tax_rate"],
            tracking=list(form.cleaned_data["tracking"]),
        )
    except ExpenseRefused as refused:
        return _row_response(request, company, expense.pk, refused.problems, choices=choices)
    return _row_response(
        request, company, expense.pk, choices=choices, changed=expense, status_before=before
    )


@require_POST
@company_member_required(Role.APPROVER)
def approve(request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID) -> HttpResponse:
    expense = _expense(company, expense_id)
    before = expense.status
    try:
        expense_approve(expense=expense, by=request.user)
    except ExpenseRefused as refused:
        if not request.htmx:
            messages.error(request, f"Not approved: {refused}")
            return redirect(_detail_url(company, expense.pk))
        return _row_response(request, company, expense.pk, refused.problems)
    if not request.htmx:
        messages.success(request, "Approved.")
        return redirect(_detail_url(company, expense.pk))
    return _row_response(request, company, expense.pk, status_before=before)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def exclude(request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID) -> HttpResponse:
    expense = _expense(company, expense_id)
    before = expense.status
    if expense.status == "excluded":
        expense_restore(expense=expense, by=request.user)
    else:
        reason = request.POST.get("reason", "").strip()[:500]
        try:
            expense_exclude(expense=expense, by=request.user, reason=reason)
        except (IllegalTransition, StaleState) as exc:
            problem = Problem("status", str(exc), "Only expenses not yet pushed can be excluded.")
            return _row_response(request, company, expense.pk, [problem])
    return _row_response(request, company, expense.pk, status_before=before)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def bulk(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    form = BulkActionForm(request.POST, choices=coding_choices(company=company))
    back = reverse("expense-queue", args=[company.pk]) + "?" + request.POST.get("query", "")
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        messages.error(request, f"Nothing was changed: {first}")
        return HttpResponseClientRefresh() if request.htmx else redirect(back)
    data = form.cleaned_data
    if data["all_matching"]:
        filters_form = QueueFilterForm(QueryDict(request.POST.get("query", "")))
        filters_form.is_valid()
        ids = queue_matching_ids(company=company, filters=filters_form.filters(), limit=BULK_LIMIT)
    else:
        ids = data["ids"]
    outcome: BulkOutcome
    if data["action"] == "approve":
        if request.company_role != Role.APPROVER:
            messages.error(request, "Approving needs the approver role on this company.")
            return HttpResponseClientRefresh() if request.htmx else redirect(back)
        outcome = expenses_bulk_approve(company=company, expense_ids=ids, by=request.user)
        verb = "approved"
    elif data["action"] == "exclude":
        outcome = expenses_bulk_exclude(company=company, expense_ids=ids, by=request.user)
        verb = "excluded"
    else:
        sent = request.POST
        outcome = expenses_bulk_code(
            company=company,
            expense_ids=ids,
            by=request.user,
            account=data["account"] if sent.get("account") else UNSET,
            tax_rate=data["tax_rate"] if sent.get("tax_rate") else UNSET,
            tracking=list(data["tracking"]) if sent.getlist("tracking") else UNSET,
            supplier=data["supplier"] if sent.get("supplier") else UNSET,
        )
        verb = "coded"
    level = messages.WARNING if outcome.refused else messages.SUCCESS
    messages.add_message(request, level, outcome.summary(verb))
    return HttpResponseClientRefresh() if request.htmx else redirect(back)


# --- The expense page -------------------------------------------------------------------------


def _detail_url(company: Company, expense_id: uuid.UUID) -> str:
    return reverse("expense-detail", args=[company.pk, expense_id])


@require_GET
@company_member_required()
def detail(request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID) -> HttpResponse:
    try:
        data = expense_detail(company=company, expense_id=expense_id)
    except Expense.DoesNotExist as exc:
        raise Http404("No such expense in this company.") from exc
    currency = data.expense.currency
    lines_formset = ExpenseLineFormSet(
        initial=[
            {
                "account": line.account_id,
                "tax_rate": line.tax_rate_id,
                "tracking": [c.pk for c in line.tracking_categories.all()],
                "net_amount": to_precision(line.net_amount, currency),
                "tax_amount": to_precision(line.tax_amount, currency),
                "description": line.description,
            }
            for line in data.lines
        ]
        or [
            {
                "net_amount": to_precision(data.expense.amount, currency),
                "tax_amount": to_precision(Decimal(0), currency),
            }
        ],
        form_kwargs={"company": company},
        prefix="lines",
    )
    details_form = ExpenseDetailsForm(
        initial={
            "notes": data.expense.notes,
            # 0.79, not 0.790000000: the rate as a person typed it.
            "currency_rate": (
                f"{data.expense.currency_rate.normalize():f}"
                if data.expense.currency_rate is not None
                else None
            ),
            "supplier_override": data.expense.supplier_override_id,
        },
        company=company,
    )
    return _render_detail(request, company, data, lines_formset, details_form)


def _render_detail(
    request: CompanyHttpRequest,
    company: Company,
    data: ExpenseDetail,
    lines_formset: Any,
    details_form: ExpenseDetailsForm,
    status: int = 200,
) -> HttpResponse:
    context = {
        "company": company,
        "d": data,
        "lines_formset": lines_formset,
        "details_form": details_form,
        "can_code": request.company_role in (Role.BOOKKEEPER, Role.APPROVER),
        "can_approve": request.company_role == Role.APPROVER,
        "receipt_limits": receipt_limits(company=company),
        "receipts_refused": receipts_refused(expense=data.expense),
        "receipt_formats": receipt_accepted_formats(company=company),
        "receipt_accept": receipt_accept_attribute(company=company),
        "correction_refusal": (
            correction_allowed(expense=data.expense)
            if data.expense.status == ExpenseStatus.SYNCED
            else None
        ),
        "admin_url": _admin_url(request, data.expense),
    }
    return render(request, "expenses/detail.html", context, status=status)


def _admin_url(request: CompanyHttpRequest, expense: Expense) -> str:
    """The expense's page in the admin, for staff allowed to look at it there; "" otherwise.
    Asked of staff only: the permission check reads the user's permissions."""
    user = request.user
    if not user.is_staff:
        return ""
    if not (user.has_perm("expenses.view_expense") or user.has_perm("expenses.change_expense")):
        return ""
    return reverse("admin:expenses_expense_change", args=[expense.pk])


@require_POST
@company_member_required(Role.BOOKKEEPER)
def lines(request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID) -> HttpResponse:
    """Split or recode the expense's lines; the amounts must add up to its total."""
    expense = _expense(company, expense_id)
    formset = ExpenseLineFormSet(request.POST, form_kwargs={"company": company}, prefix="lines")
    if formset.is_valid():
        inputs = lines_from_formset(formset)
        try:
            problems = expense_set_lines(expense=expense, lines=inputs, by=request.user)
        except ExpenseRefused as refused:
            messages.error(request, str(refused))
        else:
            if problems:
                messages.warning(request, f"Lines saved. Not ready yet: {problems[0]}")
            else:
                messages.success(request, "Lines saved. The expense is ready to approve.")
        return redirect(_detail_url(company, expense.pk))
    data = expense_detail(company=company, expense_id=expense.pk)
    details_form = ExpenseDetailsForm(initial={"notes": expense.notes}, company=company)
    messages.error(request, "Nothing was saved: correct the lines marked below.")
    return _render_detail(request, company, data, formset, details_form, status=400)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def details(request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID) -> HttpResponse:
    expense = _expense(company, expense_id)
    form = ExpenseDetailsForm(request.POST, company=company)
    if form.is_valid():
        try:
            problems = expense_update_details(
                expense=expense,
                by=request.user,
                notes=form.cleaned_data["notes"],
                currency_rate=form.cleaned_data["currency_rate"],
                supplier_override=form.cleaned_data["supplier_override"],
            )
        except ExpenseRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(
                request, "Saved." + (f" Not ready yet: {problems[0]}" if problems else "")
            )
        return redirect(_detail_url(company, expense.pk))
    data = expense_detail(company=company, expense_id=expense.pk)
    lines_formset = ExpenseLineFormSet(
        initial=[{"net_amount": to_precision(expense.amount, expense.currency)}],
        form_kwargs={"company": company},
        prefix="lines",
    )
    messages.error(request, "Nothing was saved: correct the fields marked below.")
    return _render_detail(request, company, data, lines_formset, form, status=400)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def receipt_upload(
    request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID
) -> HttpResponse:
    expense = _expense(company, expense_id)
    files = request.FILES.getlist("receipts")
    if not files:
        messages.error(request, "Choose or drop at least one receipt file.")
    for upload in files:
        try:
            receipt_add(expense=expense, upload=upload, by=request.user)
        except ExpenseRefused as refused:
            messages.error(request, f"{upload.name}: {refused}")
        else:
            messages.success(request, f"{upload.name} attached.")
    return redirect(_detail_url(company, expense.pk) + "#receipts")


@require_POST
@company_member_required(Role.BOOKKEEPER)
def receipt_delete(
    request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID, receipt_id: int
) -> HttpResponse:
    receipt = get_object_or_404(
        Receipt.objects.select_related("expense"),
        pk=receipt_id,
        expense_id=expense_id,
        expense__company=company,
    )
    try:
        receipt_remove(receipt=receipt, by=request.user)
    except ExpenseRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{receipt.original_name} removed.")
    return redirect(_detail_url(company, expense_id) + "#receipts")


@require_GET
@company_member_required()
@framed_by_own_pages  # the expense page shows PDF receipts in an <object>
def receipt_file(
    request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID, receipt_id: int
) -> HttpResponseBase:
    """The stored file, only to members of the company; never a public media URL."""
    receipt = get_object_or_404(
        Receipt, pk=receipt_id, expense_id=expense_id, expense__company=company
    )
    signed_url = receipt_signed_url(receipt)
    if signed_url:
        return redirect(signed_url)  # a short-lived signed URL to the private object
    response = FileResponse(
        receipt.file.open("rb"), content_type=receipt.content_type, filename=receipt.original_name
    )
    response["Content-Disposition"] = response["Content-Disposition"].replace(
        "attachment", "inline"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response


# --- Rules and suggestions --------------------------------------------------------------------
# The rules page (list, edit, order, run) and accepting a history suggestion from a queue row.


def _rule(company: Company, rule_id: int) -> CategorizationRule:
    return get_object_or_404(
        CategorizationRule.objects.select_related("company", "account", "tax_rate"),
        company=company,
        pk=rule_id,
    )


def _back_to_rules(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(reverse("rule-list", args=[company.pk]))
    return redirect("rule-list", company.pk)


@require_GET
@company_member_required()
def rule_list(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    context = {
        "company": company,
        "page": rules_page(company=company),
        "can_edit": request.company_role in (Role.BOOKKEEPER, Role.APPROVER),
    }
    return render(request, "expenses/rules.html", context)


@require_http_methods(["GET", "POST"])
@company_member_required(Role.BOOKKEEPER)
def rule_edit(
    request: CompanyHttpRequest, company: Company, rule_id: int | None = None
) -> HttpResponse:
    """Create a rule (no `rule_id`) or change one; errors are shown next to their fields."""
    rule = _rule(company, rule_id) if rule_id is not None else None
    if request.method == "POST":
        form = RuleForm(request.POST, company=company)
        if form.is_valid():
            try:
                saved = rule_save(
                    company=company, data=form.rule_input(), by=request.user, rule=rule
                )
            except ValidationError as refused:
                form.add_error(None, refused)
            else:
                verb = "changed" if rule else "created"
                messages.success(request, f"Rule {verb}: {rule_condition(saved)}.")
                return redirect("rule-list", company.pk)
    else:
        form = RuleForm(initial=RuleForm.initial_for(rule) if rule else None, company=company)
    context = {"company": company, "form": form, "rule": rule, "precedence": PRECEDENCE}
    return render(request, "expenses/rule_form.html", context)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def rule_delete_view(request: CompanyHttpRequest, company: Company, rule_id: int) -> HttpResponse:
    rule = _rule(company, rule_id)
    condition = rule_condition(rule)
    rule_delete(rule=rule)
    messages.success(request, f"Rule deleted: {condition}. Expenses it coded keep their coding.")
    return _back_to_rules(request, company)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def rule_toggle(request: CompanyHttpRequest, company: Company, rule_id: int) -> HttpResponse:
    active = request.POST.get("active") == "1"
    rule = rule_set_active(rule=_rule(company, rule_id), is_active=active)
    state = "active" if rule.is_active else "inactive"
    messages.success(request, f"Rule {state}: {rule_condition(rule)}.")
    return _back_to_rules(request, company)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def rule_move_view(request: CompanyHttpRequest, company: Company, rule_id: int) -> HttpResponse:
    rule_move(rule=_rule(company, rule_id), up=request.POST.get("direction") == "up")
    return _back_to_rules(request, company)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def rule_apply(request: CompanyHttpRequest, company: Company, rule_id: int) -> HttpResponse:
    rule = _rule(company, rule_id)
    run = rule_apply_to_matching(rule=rule, by=request.user)
    level = messages.WARNING if run.stayed else messages.SUCCESS
    messages.add_message(request, level, f"{rule_condition(rule)} → {run.summary()}")
    return _back_to_rules(request, company)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def rules_run(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    run = rules_run_all(company=company, by=request.user)
    level = messages.WARNING if run.stayed else messages.SUCCESS
    messages.add_message(request, level, f"All active rules → {run.summary()}")
    return _back_to_rules(request, company)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def accept_suggestion(
    request: CompanyHttpRequest, company: Company, expense_id: uuid.UUID
) -> HttpResponse:
    """Code a row with its history suggestion, worked out again here: the client only says
    which expense, never what coding."""
    expense = _expense(company, expense_id)
    suggestion = expense_suggestions(
        company=company, expenses=[expense], choices=coding_choices(company=company)
    ).get(expense.pk)
    if suggestion is None:
        problem = Problem(
            "suggestion",
            "There is no suggestion for this expense any more.",
            "Choose its coding from the lists.",
        )
        return _row_response(request, company, expense.pk, [problem])
    before = expense.status
    try:
        expense_set_coding(
            expense=expense,
            by=request.user,
            account=suggestion.account,
            tax_rate=suggestion.tax_rate,
            tracking=list(suggestion.tracking),
            source="suggestion",
        )
    except ExpenseRefused as refused:
        return _row_response(request, company, expense.pk, refused.problems)
    return _row_response(request, company, expense.pk, status_before=before)
