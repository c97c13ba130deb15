"""Each person's time zone: chosen on their settings page, kept in their session, and made
the current time zone for every request they make, so each date and time shown (templates,
the queue's rows) is theirs. Stored times stay UTC."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import Profile

SESSION_KEY = "time_zone"


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """The zones a person may choose: IANA's areas (Europe/London…) and UTC, sorted."""
    names = {
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
    }
    return ("UTC", *sorted(names))


def time_zone_problem(name: str) -> str | None:
    """Why `name` is not a zone a person may choose, or None ("" is the portal's default)."""
    if name == "" or name in time_zone_names():
        return None
    return f"“{name}” is not a time zone: choose one from the list, e.g. Europe/London."


def user_time_zone(user: AbstractBaseUser | AnonymousUser) -> str:
    """The zone the user chose ("" for the portal's default)."""
    if user.pk is None:
        return ""
    profile = Profile.objects.filter(user_id=user.pk).only("time_zone").first()
    return profile.time_zone if profile else ""


def user_time_zone_set(*, user: AbstractBaseUser, name: str, session: SessionBase) -> None:
    if time_zone_problem(name):
        raise ValueError(time_zone_problem(name))
    Profile.objects.update_or_create(user_id=user.pk, defaults={"time_zone": name})
    session[SESSION_KEY] = name


def remember_on_sign_in(
    sender: object, request: HttpRequest, user: AbstractBaseUser, **_: object
) -> None:
    request.session[SESSION_KEY] = user_time_zone(user)


class UserTimeZoneMiddleware:
    """Makes the signed-in person's zone current for the request (from their session: no
    query once they have signed in), else the portal's TIME_ZONE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = ""
        if request.user.is_authenticated:
            if SESSION_KEY not in request.session:  # a session from before the setting
                request.session[SESSION_KEY] = user_time_zone(request.user)
            name = request.session[SESSION_KEY]
        if name and name != settings.TIME_ZONE and not time_zone_problem(name):
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
