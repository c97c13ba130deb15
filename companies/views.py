from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from companies.models import Company
from companies.permissions import company_member_required
from companies.selectors import company_list_overview, company_overview
from sfe_portal.http import AuthenticatedHttpRequest, CompanyHttpRequest


@require_GET
@vary_on_headers("HX-Request")
def company_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:200]
    rows = company_list_overview(user=request.user, search=search)
    template = "companies/list.html#company-rows" if request.htmx else "companies/list.html"
    return render(request, template, {"rows": rows, "search": search})


@require_GET
@company_member_required()
def company_detail(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    overview = company_overview(company=company)
    context = {"company": company, "overview": overview, "role": request.company_role}
    return render(request, "companies/detail.html", context)
