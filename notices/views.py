from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from companies.models import Company
from companies.permissions import company_member_required
from companies.staff import SEE_EVERY_COMPANY, staff_may
from notices.selectors import CAUSE_PAGE_LIMIT, company_failing_now
from sfe_portal.http import CompanyHttpRequest


@require_GET
@company_member_required()
def company_failing(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    """What is failing at the company now, by cause: where a notice's cause link leads."""
    cause = request.GET.get("cause")
    context = {
        "company": company,
        "cause": cause,
        "failing": company_failing_now(company=company, cause=cause),
        "limit": CAUSE_PAGE_LIMIT,
        "sees_every_company": staff_may(request.user, SEE_EVERY_COMPANY),
    }
    return render(request, "notices/failing.html", context)
