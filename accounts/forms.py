"""The sign-in forms of the portal and of the admin, both behind the same throttle."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest

from accounts import services
from accounts.models import SignInLockout
from accounts.time_zones import time_zone_names


def client_ip(request: HttpRequest | None) -> str | None:
    """The peer address. X-Forwarded-For is not trusted: anyone can write it."""
    if request is None:
        return None
    address = request.META.get("REMOTE_ADDR") or None
    return str(address) if address else None


class ThrottledSignInMixin:
    """Refuses a locked username or IP before any password is checked; counts failures."""

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    lockout: SignInLockout | None = None

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        ip = client_ip(self.request)
        now = services.clock()
        lockout = services.signin_lockout_active(username=username, ip=ip, now=now)
        if lockout is not None:
            self.lockout = lockout
            raise forms.ValidationError(services.lockout_message(lockout, now=now), code="locked")
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except forms.ValidationError as refused:
            if username and getattr(refused, "code", None) == "invalid_login":
                lockout = services.signin_failure_record(username=username, ip=ip, now=now)
                if lockout is not None:
                    self.lockout = lockout
                    raise forms.ValidationError(
                        services.lockout_message(lockout, now=now), code="locked"
                    ) from refused
            raise
        services.signin_success_record(username=username)
        return cleaned


class SignInForm(ThrottledSignInMixin, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignInMixin, AdminAuthenticationForm):
    pass


class PersonalSettingsForm(forms.Form):
    """A person's own settings: the time zone their dates and times are shown in."""

    time_zone = forms.ChoiceField(
        required=False,
        label="Time zone",
        choices=lambda: (
            [("", f"The portal's default ({settings.TIME_ZONE})")]
            + [(name, name.replace("_", " ")) for name in time_zone_names()]
        ),
        error_messages={
            "invalid_choice": (
                "“%(value)s” is not a time zone: choose one from the list, e.g. Europe/London."
            )
        },
    )
