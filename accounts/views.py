from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import PersonalSettingsForm, SignInForm
from accounts.time_zones import SESSION_KEY, user_time_zone, user_time_zone_set
from sfe_portal.http import AuthenticatedHttpRequest


class SignInView(auth_views.LoginView):
    """Django's sign-in page with the throttled form; a locked sign-in answers 429."""

    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form: SignInForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        if form.lockout is not None:
            response.status_code = 429
        return response


@require_http_methods(["GET", "POST"])
def personal_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The signed-in person's own settings (their time zone)."""
    if request.method == "POST":
        form = PersonalSettingsForm(request.POST)
        if form.is_valid():
            name = form.cleaned_data["time_zone"]
            user_time_zone_set(user=request.user, name=name, session=request.session)
            messages.success(
                request, f"Dates and times are now shown in {name or 'the default time zone'}."
            )
            return redirect("personal-settings")
        return render(request, "accounts/settings.html", {"form": form}, status=400)
    current = request.session.get(SESSION_KEY)
    if current is None:
        current = user_time_zone(request.user)
    form = PersonalSettingsForm(initial={"time_zone": current})
    return render(request, "accounts/settings.html", {"form": form})
