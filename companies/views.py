from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from companies.forms import (
    ConfigurationForm,
    ConnectCompanyForm,
    InvitationAccountForm,
    InviteForm,
    MemberRoleForm,
    NoticeChoiceForm,
)
from companies.invitations import (
    INVITATION_DAYS,
    InvitationRefused,
    invitation_accept,
    invitation_account_create,
    invitation_create,
    invitation_for_key,
    invitation_invitee,
    invitation_path,
    invitation_withdraw,
    invitations_pending,
)
from companies.models import Company, CompanyConfiguration, Membership, NoticeChoice, Role
from companies.onboarding import (
    ConfigurationRefused,
    company_configuration_save,
    company_onboard,
    company_onboarding_retry,
)
from companies.permissions import (
    company_member_required,
    member_powers,
    staff_permission_required,
)
from companies.platforms import Platform
from companies.refresh import company_refresh_request
from companies.selectors import (
    company_onboarding_progress,
    company_settings_overview,
    configuration_notes,
    membership_of,
)
from companies.services import membership_remove, membership_set_notices, membership_set_role
from companies.staff import (
    ACT_ON_EVERY_COMPANY,
    CHANGE_MEMBERS,
    CONNECT_COMPANIES,
    INVITE_MEMBERS,
    REMOVE_MEMBERS,
    permission_refusal,
    staff_write_record,
)
from sfe_portal.http import AuthenticatedHttpRequest, CompanyHttpRequest


@require_http_methods(["GET", "POST"])
@staff_permission_required(CONNECT_COMPANIES)
def company_connect(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    form = ConnectCompanyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        company = company_onboard(
            name=form.cleaned_data["name"],
            platform=Platform(form.cleaned_data["platform"]),
        )
        staff_write_record(user=request.user, obj=company, message="connected", added=True)
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


# Support follows the onboarding of a company it connected with either permission; the
# configuration itself is saved by approvers (support: "Can change company").
_ONBOARDING_STAFF = (ACT_ON_EVERY_COMPANY, CONNECT_COMPANIES)


@require_GET
@vary_on_headers("HX-Request")
@company_member_required(Role.APPROVER, staff_permission=_ONBOARDING_STAFF)
def company_onboarding(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    progress = company_onboarding_progress(company=company)
    if request.htmx and progress.needs_configuration:
        # The form needs the whole page: reload it once instead of swapping a fragment.
        return HttpResponseClientRefresh()
    can_configure = request.company_role == Role.APPROVER
    context = {
        "company": company,
        "progress": progress,
        "form": _configuration_form(company)
        if progress.needs_configuration and can_configure
        else None,
        "configure_refusal": "" if can_configure else permission_refusal(ACT_ON_EVERY_COMPANY),
        "notes": configuration_notes(company=company),
    }
    template = "companies/onboarding.html#progress" if request.htmx else "companies/onboarding.html"
    return render(request, template, context)


@require_POST
@company_member_required(Role.APPROVER, staff_permission=_ONBOARDING_STAFF)
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


def _notices_context(
    membership: Membership | None, form: NoticeChoiceForm | None = None
) -> dict[str, object]:
    """The member's own notice choice for the settings page (none for support)."""
    if membership is None:
        return {"notices_form": None}
    return {
        "notices_form": form or NoticeChoiceForm(initial={"notices": membership.notice_choice}),
        "notices_default": "" if membership.notices else membership.notice_choice.label,
    }


def _settings_page(
    request: CompanyHttpRequest,
    company: Company,
    *,
    configuration_form: ConfigurationForm | None = None,
    invite_form: InviteForm | None = None,
    notices_form: NoticeChoiceForm | None = None,
    status: int = 200,
) -> HttpResponse:
    overview = company_settings_overview(company=company)
    powers = member_powers(user=request.user, role=Role(request.company_role))
    invitations = (
        [
            (invitation, request.build_absolute_uri(invitation_path(invitation=invitation)))
            for invitation in invitations_pending(company=company)
        ]
        if powers.invite and not request.htmx
        else []
    )
    context = {
        "company": company,
        "settings": overview,
        "notes": overview.notes,
        "role": request.company_role,
        "can_configure": request.company_role == Role.APPROVER,
        "members": powers,
        "invitations": invitations,
        "invitation_days": INVITATION_DAYS,
        "form": configuration_form or _configuration_form(company),
        "invite_form": invite_form or InviteForm(),
        "roles": Role.choices,
        **_notices_context(membership_of(company=company, user=request.user), notices_form),
    }
    template = "companies/settings.html#freshness" if request.htmx else "companies/settings.html"
    return render(request, template, context, status=status)


@require_GET
@vary_on_headers("HX-Request")
@company_member_required()
def company_settings(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    return _settings_page(request, company)


@require_POST
@vary_on_headers("HX-Request")
@company_member_required()
def company_notices(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    """A member chooses what they hear of the company's failures: their own choice only."""
    membership = membership_of(company=company, user=request.user)
    if membership is None:
        raise PermissionDenied(
            "Support staff hear of disconnections and stalled pushes at every company: there "
            "is no choice to make here."
        )
    form = NoticeChoiceForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            context = {"company": company, **_notices_context(membership, form)}
            return render(request, "companies/settings.html#notices", context, status=400)
        return _settings_page(request, company, notices_form=form, status=400)
    membership = membership_set_notices(
        membership=membership, choice=NoticeChoice(form.cleaned_data["notices"])
    )
    saved = f"Saved: {membership.notice_choice.label.lower()}."
    if request.htmx:
        context = {"company": company, "notices_saved": saved, **_notices_context(membership)}
        return render(request, "companies/settings.html#notices", context)
    messages.success(request, saved)
    return redirect("company-settings", company.pk)


@require_POST
@company_member_required(Role.BOOKKEEPER)
def company_refresh(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    company_refresh_request(company=company)
    messages.info(request, "Refreshing the chart of accounts and contacts from Codat.")
    return redirect("company-settings", company.pk)


@require_POST
@company_member_required(Role.APPROVER, staff_permission=INVITE_MEMBERS)
def company_invite(request: CompanyHttpRequest, company: Company) -> HttpResponse:
    """The same answer whatever accounts exist: only the invitee's acceptance links one."""
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, company, invite_form=form, status=400)
    invitation = invitation_create(
        company=company,
        email=form.cleaned_data["email"],
        role=Role(form.cleaned_data["role"]),
        by=request.user,
        site=request.build_absolute_uri("/"),
    )
    messages.success(
        request,
        f"Invitation sent to {invitation.email}, valid for {INVITATION_DAYS} days. Its link is "
        "also under Invitations below, to pass on yourself.",
    )
    return redirect("company-settings", company.pk)


@require_POST
@company_member_required(Role.APPROVER, staff_permission=INVITE_MEMBERS)
def company_invitation_withdraw(
    request: CompanyHttpRequest, company: Company, invitation_id: int
) -> HttpResponse:
    if invitation_withdraw(company=company, invitation_id=invitation_id):
        messages.success(request, "Invitation withdrawn: its link no longer works.")
    return redirect("company-settings", company.pk)


@require_POST
@company_member_required(Role.APPROVER, staff_permission=(CHANGE_MEMBERS, REMOVE_MEMBERS))
def company_member_change(
    request: CompanyHttpRequest, company: Company, user_id: int
) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id, memberships__company=company)
    powers = member_powers(user=request.user, role=Role(request.company_role))
    if request.POST.get("action") == "remove":
        if not powers.remove:
            raise PermissionDenied(permission_refusal(REMOVE_MEMBERS))
        membership_remove(company=company, user=user)
        messages.success(request, f"{user.username} was removed from {company.name}.")
        return redirect("company-settings", company.pk)
    if not powers.change:
        raise PermissionDenied(permission_refusal(CHANGE_MEMBERS))
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        membership_set_role(company=company, user=user, role=Role(form.cleaned_data["role"]))
        messages.success(
            request, f"{user.username} is now {Role(form.cleaned_data['role']).label.lower()}."
        )
    else:
        messages.error(request, "Choose one of the roles offered.")
    return redirect("company-settings", company.pk)


@login_not_required
@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, key: str) -> HttpResponse:
    """The invitation's link: the signed key is what lets its holder in. A signed-in account
    with the invited address accepts; an address with no account makes one here."""
    invitation = invitation_for_key(key=key)
    if invitation is None:
        return render(request, "companies/invitation.html", {"invitation": None}, status=404)
    user = request.user if request.user.is_authenticated else None
    invitee = invitation_invitee(invitation=invitation, user=user)
    context: dict[str, object] = {"invitation": invitation, "invitee": invitee}
    if invitee.refusal:
        return render(request, "companies/invitation.html", context, status=403)
    if user is None and invitee.must_sign_in:
        return render(request, "companies/invitation.html", context)
    form = (
        None
        if user is not None
        else InvitationAccountForm(request.POST or None, email=invitation.email)
    )
    context["form"] = form
    if request.method == "POST":
        try:
            if form is None:
                invitation_accept(invitation=invitation, user=user)  # type: ignore[arg-type]
            elif form.is_valid():
                user = invitation_account_create(
                    invitation=invitation,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        except InvitationRefused as refused:
            context["invitee"] = type(invitee)(refusal=str(refused))
            return render(request, "companies/invitation.html", context, status=409)
        if user is not None:
            messages.success(
                request,
                f"You are now {Role(invitation.role).label.lower()} of {invitation.company.name}.",
            )
            return redirect("company-detail", invitation.company_id)
        return render(request, "companies/invitation.html", context, status=400)
    return render(request, "companies/invitation.html", context)
