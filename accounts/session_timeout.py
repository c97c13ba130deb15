"""Signing out a session left idle, or one past its absolute lifetime.

A finance tool left open on a shared or unlocked machine should not stay signed in. After
`SESSION_IDLE_TIMEOUT_MINUTES` without a request, or `SESSION_MAX_AGE_HOURS` after signing in
however busy, the next request signs the user out and the sign-in page says why. `clock` is the
module's time source; tests replace it instead of waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from sfe_portal.http import HtmxHttpRequest

logger = logging.getLogger(__name__)

clock: Callable[[], datetime] = timezone.now

SIGNED_IN_AT = "signed_in_at"
LAST_SEEN_AT = "last_seen_at"
# Activity is written to the session at most this often, so that a run of requests does not
# save the session on each one: idleness is measured to within this many seconds.
TOUCH_EVERY_S = 60


def _duration(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" + ("s" if hours != 1 else "")
    return f"{minutes} minute" + ("s" if minutes != 1 else "")


def session_stamp(*, session: SessionBase, now: datetime) -> None:
    """Start the clocks of a session just signed in."""
    session[SIGNED_IN_AT] = session[LAST_SEEN_AT] = int(now.timestamp())


def session_timed_out(*, session: SessionBase, now: datetime) -> str:
    """Why the session must end now ("" while it may go on)."""
    stamp = int(now.timestamp())
    idle_minutes = settings.SESSION_IDLE_TIMEOUT_MINUTES
    lifetime_minutes = settings.SESSION_MAX_AGE_HOURS * 60
    if stamp - session.get(SIGNED_IN_AT, stamp) >= lifetime_minutes * 60:
        return (
            f"You were signed out: a session lasts at most {_duration(lifetime_minutes)}. "
            "Sign in again to carry on."
        )
    if stamp - session.get(LAST_SEEN_AT, stamp) >= idle_minutes * 60:
        return (
            f"You were signed out after {_duration(idle_minutes)} without activity. "
            "Sign in again to carry on."
        )
    return ""


def session_touch(*, session: SessionBase, now: datetime) -> None:
    """Record activity; sessions from before the clocks existed start theirs now."""
    stamp = int(now.timestamp())
    session.setdefault(SIGNED_IN_AT, stamp)
    if stamp - session.get(LAST_SEEN_AT, 0) >= TOUCH_EVERY_S:
        session[LAST_SEEN_AT] = stamp


def stamp_on_sign_in(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    """`user_logged_in` receiver (connected in AccountsConfig.ready)."""
    session_stamp(session=request.session, now=clock())


def _sign_in_url(request: HtmxHttpRequest) -> str:
    """The sign-in page, coming back to the page the user was on (for htmx, the page that made
    the request, not the fragment)."""
    current = request.htmx.current_url or ""
    parts = urlsplit(current)
    back = parts.path + (f"?{parts.query}" if parts.query else "")
    if not back or not url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = "/"
    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': back})}"


class SessionTimeoutMiddleware:
    """Signs out a session idle or too old before the view runs, with a message for the sign-in
    page. The view then sees an anonymous user: a page that needs sign-in redirects there as
    usual; an htmx request is sent there whole instead of swapping the sign-in page into a
    fragment. Must come after the auth, messages and htmx middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HtmxHttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = clock()
            reason = session_timed_out(session=request.session, now=now)
            if reason:
                logger.info("Signed out %s: %s", request.user.get_username(), reason)
                logout(request)
                messages.info(request, reason)
                if request.htmx:
                    return HttpResponseClientRedirect(_sign_in_url(request))
            else:
                session_touch(session=request.session, now=now)
        return self.get_response(request)
