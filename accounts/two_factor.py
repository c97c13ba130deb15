"""Staff's second factor: a TOTP code from an authenticator app (django-otp), after the password.

Staff can mark expenses synced and push into customers' ledgers, so where
`STAFF_TOTP_REQUIRED` (production by default) a staff session reaches nothing but the code
step until it has given a code: `SecondFactorMiddleware` sends it there from every page, the
admin's included. A staff account with no authenticator set up is taken to the enrolment page
first (a QR code, or the key to type in), where a code from the app confirms it. In development
the step is asked only of staff who set up an app themselves (from their settings page), so
the demo sign-ins work with a password alone.

Wrong codes are throttled on the device by django-otp (each wrong code doubles the wait before
the next, across sessions). `manage.py totp_reset USERNAME` removes a person's authenticator
(a lost phone): their next sign-in sets up a new one.
"""

from __future__ import annotations

import re
from base64 import b32encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from sfe_portal.http import HtmxHttpRequest

# Set at sign-in for a staff account that owes a code although it is not required (one that
# set up an app in development); cleared once the code is given.
OWED_SESSION_KEY = "second_factor_owed"
# What an unverified staff session may still open: the two steps and signing out.
OPEN_BEFORE_SECOND_FACTOR = {"signin-code", "signin-enrol", "logout", "admin:logout"}
DEVICE_NAME = "Authenticator app"
CODE_PATTERN = re.compile(r"^\d{6}$")


def staff_totp_required() -> bool:
    return bool(settings.STAFF_TOTP_REQUIRED)


def user_verified(user: AbstractBaseUser | AnonymousUser) -> bool:
    """The session gave its second factor (OTPMiddleware's `is_verified`)."""
    is_verified: Callable[[], bool] | None = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def second_factor_owed(request: HttpRequest) -> bool:
    """A signed-in staff session that must still give a code before anything else."""
    user = request.user
    if not (user.is_authenticated and user.is_staff) or user_verified(user):
        return False
    return staff_totp_required() or bool(request.session.get(OWED_SESSION_KEY))


def confirmed_device(user: AbstractBaseUser | AnonymousUser) -> TOTPDevice | None:
    if user.pk is None:
        return None
    device: TOTPDevice | None = (
        TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("pk").first()
    )
    return device


def owe_on_sign_in(sender: Any, request: HttpRequest, user: AbstractBaseUser, **_: Any) -> None:
    """`user_logged_in` receiver: a staff account with an app gives a code even where codes
    are not required."""
    if getattr(user, "is_staff", False) and confirmed_device(user) is not None:
        request.session[OWED_SESSION_KEY] = True


def step_url(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def enrolment_device(user: AbstractBaseUser) -> TOTPDevice:
    """The app being set up: the same key until it is confirmed, so reloading the page does
    not undo a scan."""
    device: TOTPDevice | None = (
        TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("-pk").first()
    )
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def secret_in_groups(device: TOTPDevice) -> str:
    """The key as an app asks for it when typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code: drawn here, no request leaves the page, and
    no inline style (the content security policy forbids it)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg: str = image.to_string(encoding="unicode")
    svg = re.sub(r'\s(?:width|height)="[^"]*"', "", svg, count=2)
    return svg.replace(
        "<svg ",
        '<svg class="qr-code" role="img" aria-label="QR code for your authenticator app" ',
        1,
    )


def code_problem(code: str) -> str:
    """Why `code` cannot be a code ("" when it can be one): six digits, spaces allowed."""
    if not CODE_PATTERN.match(code):
        return "Enter the 6-digit code your authenticator app shows now (digits only)."
    return ""


def _throttled_message(until: datetime, *, now: datetime) -> str:
    seconds = max(1, int((until - now).total_seconds() + 0.999))
    return (
        f"Wait {seconds} second{'s' if seconds != 1 else ''} before the next code: each wrong "
        "code doubles the wait. If your app's codes are never accepted, check that the phone "
        "sets its clock automatically, or ask support to reset your authenticator."
    )


@dataclass(frozen=True)
class CodeCheck:
    accepted: bool
    problem: str = ""  # why not, in words
    throttled: bool = False  # refused unchecked: too many wrong codes just now


def code_check(*, device: TOTPDevice, code: str) -> CodeCheck:
    """Check a code against the device under django-otp's throttle."""
    code = code.replace(" ", "")
    problem = code_problem(code)
    if problem:
        return CodeCheck(accepted=False, problem=problem)
    with transaction.atomic():
        locked: TOTPDevice = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, details = locked.verify_is_allowed()
        if not allowed:
            message = _throttled_message(details["locked_until"], now=timezone.now())
            return CodeCheck(accepted=False, problem=message, throttled=True)
        if locked.verify_token(code):
            return CodeCheck(accepted=True)
    return CodeCheck(
        accepted=False,
        problem="That code is not right. Enter the code your app shows now for SfE Portal; it "
        "changes every 30 seconds.",
    )


def verified_mark(request: HttpRequest, device: TOTPDevice) -> None:
    """The session gave its second factor: a new session key (it now carries more trust), and
    the device on it for OTPMiddleware."""
    request.session.cycle_key()
    request.session.pop(OWED_SESSION_KEY, None)
    otp_login(request, device)


@transaction.atomic
def enrolment_confirm(*, request: HttpRequest, device: TOTPDevice, code: str) -> CodeCheck:
    """Confirm the app being set up with a code from it; once accepted the session is
    verified."""
    check = code_check(device=device, code=code)
    if not check.accepted:
        return check
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
    TOTPDevice.objects.filter(user_id=device.user_id, confirmed=False).delete()
    device.confirmed = True
    verified_mark(request, device)
    return check


def devices_reset(user: AbstractBaseUser) -> int:
    """Remove every authenticator of the user (a lost phone); sessions verified with one are no
    longer verified, and the next sign-in sets up a new one."""
    count, _ = TOTPDevice.objects.filter(user_id=user.pk).delete()
    return int(count)


class SecondFactorMiddleware:
    """Sends a staff session that owes its code to the code step from every page but the two
    steps, signing out and the public pages. After OTPMiddleware, the session timeout and
    htmx's middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HtmxHttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if getattr(view_func, "login_required", True) is False:
            return None  # public: the sign-in pages, health probes, webhooks
        match = request.resolver_match
        if match is not None and match.view_name in OPEN_BEFORE_SECOND_FACTOR:
            return None
        if not second_factor_owed(request):
            return None
        back = request.htmx.current_url_abs_path if request.htmx else request.get_full_path()
        url = step_url("signin-code", back or "/")
        if request.htmx:
            return HttpResponseClientRedirect(url)
        return redirect(url)
