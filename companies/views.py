from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from companies.forms import ConfigurationForm, ConnectCompanyForm, MemberAddForm, MemberRoleForm
from companies.models import Company, CompanyConfiguration, Role
from companies.onboarding import (
    ConfigurationRefused,
    company_configuration_save,
    company_onboard,
    company_onboarding_retry,
)
from companies.permissions import company_member_required, staff_required
from companies.platforms import Platform
from companies.refresh import company_refresh_request
from companies.selectors import (
    company_list_overview,
    company_onboarding_progress,
    company_overview,
    company_settings_overview,
    configuration_notes,
)
from companies.services import membership_remove, membership_set_role
from sfe_portal.http import AuthenticatedHttpRequest, CompanyHttpRequest


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
@company_member_required()
def company_detail(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    overview = company_overview(company=company)
    context = {"company": company, "overview": overview, "role": request.company_role}
    return render(request, "companies/detail.html", context)


@require_http_methods(["GET", "POST"])
@staff_required
def company_connect(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    form = ConnectCompanyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        company = company_onboard(
            name=form.cleaned_data["name"],
            platform=Platform(form.cleaned_data["platform"]),
        )
        return redirect("company-onboarding", company.pk)
    return render(request, "companies/connect.html", {"form": form})


def _configuration_form(company: Company, data: object = None) -> ConfigurationForm:
    config = CompanyConfiguration.objects.filter(company=company).first()
    initial = (
        {
            "bank_account": config.bank_account_id,
            "supplier": config.supplier_id,
            "customer": config.customer_id,
        }
        if config
        else {}
    )
    return ConfigurationForm(data, company=company, initial=initial)


@require_GET
@vary_on_headers("HX-Request")
@company_member_required(Role.APPROVER)
def company_onboarding(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    progress = company_onboarding_progress(company=company)
    if request.htmx and progress.needs_configuration:
        # The form needs the whole page: reload it once instead of swapping a fragment.
        return HttpResponseClientRefresh()
    context = {
        "company": company,
        "progress": progress,
        "form": _configuration_form(company) if progress.needs_configuration else None,
        "notes": configuration_notes(platform=company.platform),
    }
    template = "companies/onboarding.html#progress" if request.htmx else "companies/onboarding.html"
    return render(request, template, context)


@require_POST
@company_member_required(Role.APPROVER)
def company_onboarding_retry_view(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    company_onboarding_retry(company=company)
    messages.info(request, "Trying again; this page follows the progress.")
    return redirect("company-onboarding", company.pk)


@require_POST
@company_member_required(Role.APPROVER)
def company_configuration(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    form = _configuration_form(company, request.POST)
    if form.is_valid():
        try:
            company_configuration_save(
                company=company,
                bank_account=form.cleaned_data["bank_account"],
                supplier=form.cleaned_data["supplier"],
                customer=form.cleaned_data["customer"],
                by=request.user,
            )
        except ConfigurationRefused as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(request, "Configuration saved; sending it to Codat.")
            target = (
                "company-onboarding"
                if request.POST.get("from") == "onboarding"
                else "company-settings"
            )
            return redirect(target, company.pk)
    return _settings_page(request, company, configuration_form=form, status=400)


def _settings_page(
    request: CompanyHttpRequest,
    company: Company,
    *,
    configuration_form: ConfigurationForm | None = None,
    member_form: MemberAddForm | None = None,
    status: int = 200,
) -> HttpResponse:
    overview = company_settings_overview(company=company)
    context = {
        "company": company,
        "settings": overview,
        "notes": overview.notes,
        "role": request.company_role,
        "can_manage": request.company_role == Role.APPROVER,
        "form": configuration_form or _configuration_form(company),
        "member_form": member_form or MemberAddForm(),
        "roles": Role.choices,
    }
    template = "companies/settings.html#freshness" if request.htmx else "companies/settings.html"
    return render(request, template, context, status=status)


@require_GET
@vary_on_headers("HX-Request")
@company_member_required()
def company_settings(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    return _settings_page(request, company)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def company_refresh(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    company_refresh_request(company=company)
    messages.info(request, "Refreshing the chart of accounts and contacts from Codat.")
    return redirect("company-settings", company.pk)


@require_POST
@company_member_required(Role.APPROVER)
def company_member_add(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, company, member_form=form, status=400)
    user = form.cleaned_data["user"]
    membership_set_role(company=company, user=user, role=Role(form.cleaned_data["role"]))
    messages.success(request, f"{user.username} is now a member of {company.name}.")
    return redirect("company-settings", company.pk)


@require_POST
@company_member_required(Role.APPROVER)
def company_member_change(
    request: CompanyHttpRequest, company: Company, user_id: int
) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id, memberships__company=company)
    if request.POST.get("action") == "remove":
        membership_remove(company=company, user=user)
        messages.success(request, f"{user.username} was removed from {company.name}.")
        return redirect("company-settings", company.pk)
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        membership_set_role(company=company, user=user, role=Role(form.cleaned_data["role"]))
        messages.success(
            request, f"{user.username} is now {Role(form.cleaned_data['role']).label.lower()}."
        )
    else:
        messages.error(request, "Choose one of the roles offered.")
    return redirect("company-settings", company.pk)
