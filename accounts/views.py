from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.forms import PersonalSettingsForm, SignInForm
from accounts.time_zones import SESSION_KEY, user_time_zone, user_time_zone_set
from accounts.two_factor import (
    CodeCheck,
    code_check,
    confirmed_device,
    enrolment_confirm,
    enrolment_device,
    qr_code_svg,
    second_factor_owed,
    secret_in_groups,
    staff_totp_required,
    step_url,
    verified_mark,
)
from sfe_portal.http import AuthenticatedHttpRequest


class SignInView(auth_views.LoginView):
    """Django's sign-in page with the lock-aware form (a locked sign-in answers 429: axes'
    middleware); a staff account that owes its second factor goes on to the code step."""

    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        url = super().get_success_url()
        if second_factor_owed(self.request):
            return step_url("signin-code", url)
        return url


def _next_url(request: HttpRequest) -> str:
    """Where to go once the step is done: the `next` asked for when it is on this site."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@never_cache
@require_http_methods(["GET", "POST"])
def second_step(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The code from the staff member's authenticator app, after their password."""
    next_url = _next_url(request)
    if not second_factor_owed(request):
        return redirect(next_url)
    device = confirmed_device(request.user)
    if device is None:
        return redirect(step_url("signin-enrol", next_url))
    check = CodeCheck(accepted=False)
    if request.method == "POST":
        check = code_check(device=device, code=request.POST.get("code", ""))
        if check.accepted:
            verified_mark(request, device)
            return redirect(next_url)
    return render(
        request,
        "accounts/second_step.html",
        {"problem": check.problem, "next": next_url, "second_step": True},
        status=429 if check.throttled else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def enrol(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Setting up the authenticator app of a staff account that has none: scan (or type in)
    the key, then confirm with a code from the app."""
    next_url = _next_url(request)
    if not request.user.is_staff:
        return redirect(next_url)
    if confirmed_device(request.user) is not None:
        return redirect(step_url("signin-code", next_url))
    device = enrolment_device(request.user)
    check = CodeCheck(accepted=False)
    if request.method == "POST":
        check = enrolment_confirm(request=request, device=device, code=request.POST.get("code", ""))
        if check.accepted:
            messages.success(
                request,
                "Your authenticator app is set up: from now on you sign in with your password "
                "and a code from it.",
            )
            return redirect(next_url)
    return render(
        request,
        "accounts/enrol.html",
        {
            "problem": check.problem,
            "next": next_url,
            "second_step": second_factor_owed(request),
            "required": staff_totp_required(),
            "qr_code": qr_code_svg(device.config_url),
            "secret": secret_in_groups(device),
            "issuer": settings.OTP_TOTP_ISSUER,
        },
        status=429 if check.throttled else 200,
    )


@require_http_methods(["GET", "POST"])
def personal_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The signed-in person's own settings (their time zone)."""
    context = {"authenticator": confirmed_device(request.user) if request.user.is_staff else None}
    if request.method == "POST":
        form = PersonalSettingsForm(request.POST)
        if form.is_valid():
            name = form.cleaned_data["time_zone"]
            user_time_zone_set(user=request.user, name=name, session=request.session)
            messages.success(
                request, f"Dates and times are now shown in {name or 'the default time zone'}."
            )
            return redirect("personal-settings")
        return render(request, "accounts/settings.html", {"form": form, **context}, status=400)
    current = request.session.get(SESSION_KEY)
    if current is None:
        current = user_time_zone(request.user)
    form = PersonalSettingsForm(initial={"time_zone": current})
    return render(request, "accounts/settings.html", {"form": form, **context})
