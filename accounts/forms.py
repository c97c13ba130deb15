"""The sign-in forms of the portal and of the admin, both behind the same locks (django-axes,
accounts/lockouts.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest

from accounts.lockouts import SignInLock, lockout_message, request_lock
from accounts.time_zones import time_zone_names


class LockedSignInMixin:
    """Says why a sign-in was refused for a lock, and until when.

    Axes' backend refuses a locked username or address before any password is checked, and its
    handler counts the failures and makes the lock; Django then reports either as a wrong
    password. This tells them apart; axes' middleware answers such a page with 429."""

    request: HttpRequest | None
    lock: SignInLock | None = None

    def clean(self) -> dict[str, Any]:
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except forms.ValidationError as refused:
            request = self.request
            if request is not None and getattr(request, "axes_locked_out", False):
                self.lock = request_lock(request, getattr(request, "axes_credentials", None))
                if self.lock is not None:
                    raise forms.ValidationError(
                        lockout_message(self.lock, now=request.axes_attempt_time),  # type: ignore[attr-defined]
                        code="locked",
                    ) from refused
            raise
        return cleaned


class SignInForm(LockedSignInMixin, AuthenticationForm):
    pass


class AdminSignInForm(LockedSignInMixin, AdminAuthenticationForm):
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
