"""Sign-in locks on top of django-axes: a username and a client address, each with its own limit.

Axes records every failed sign-in in the database (`AccessAttempt`, one row per username,
address and browser, with its failures and the time of the last one) and its backend refuses a
locked sign-in before any password is checked. It has one limit for every lockout parameter;
the portal keeps two: `SIGNIN_USERNAME_FAILURES` for one username (from any address) and
`SIGNIN_IP_FAILURES` for one client address (any usernames, a spray). A row counts while its
last failure is less than `SIGNIN_LOCKOUT_MINUTES` old, so a lock ends that long after the
failure that made it, and the page can say when.

Time is axes' (`request.axes_attempt_time`, from `django.utils.timezone.now`): the tests move it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import TextChoices
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


class LockScope(TextChoices):
    USERNAME = "username", "Username"
    IP = "ip_address", "Client address"


@dataclass(frozen=True)
class SignInLock:
    scope: LockScope
    key: str
    failures: int
    until: datetime


def cool_off(request: HttpRequest | None = None) -> timedelta:
    """How long a failure counts, and so how long a lock lasts (also AXES_COOLOFF_TIME)."""
    return timedelta(minutes=settings.SIGNIN_LOCKOUT_MINUTES)


def _limit(scope: LockScope) -> int:
    if scope == LockScope.USERNAME:
        return int(settings.SIGNIN_USERNAME_FAILURES)
    return int(settings.SIGNIN_IP_FAILURES)


def lock_from_streaks(
    scope: LockScope, key: str, streaks: Iterable[tuple[datetime, int]], *, now: datetime
) -> SignInLock | None:
    """The lock on `key` now, from its rows' (last failure, failures), if they reach the limit.

    The newest rows are the last to stop counting: the lock ends when the row that brought the
    count to the limit, counting from the newest, is `cool_off()` old.
    """
    since = now - cool_off()
    live = sorted(((at, n) for at, n in streaks if at >= since), reverse=True)
    total = sum(n for _, n in live)
    if total < _limit(scope):
        return None
    counted = 0
    for at, failures in live:
        counted += failures
        if counted >= _limit(scope):
            return SignInLock(scope=scope, key=key, failures=total, until=at + cool_off())
    return None  # pragma: no cover  (total reached the limit, so the loop returned)


def signin_lock(*, username: str | None, ip: str | None, now: datetime) -> SignInLock | None:
    """The lock that refuses a sign-in as `username` from `ip` now, if any (the one ending
    last)."""
    since = now - cool_off()
    locks = []
    for scope, key in ((LockScope.USERNAME, username), (LockScope.IP, ip)):
        if not key:
            continue
        rows = AccessAttempt.objects.filter(**{scope.value: key}, attempt_time__gte=since)
        streaks = rows.values_list("attempt_time", "failures_since_start")
        lock = lock_from_streaks(scope, key, streaks, now=now)
        if lock is not None:
            locks.append(lock)
    return max(locks, key=lambda lock: lock.until, default=None)


def signin_locks_now(*, now: datetime) -> dict[tuple[LockScope, str], SignInLock]:
    """Every lock in force, by scope and key (for the admin's list): one query."""
    rows = AccessAttempt.objects.filter(attempt_time__gte=now - cool_off()).values_list(
        "username", "ip_address", "attempt_time", "failures_since_start"
    )
    streaks: dict[tuple[LockScope, str], list[tuple[datetime, int]]] = {}
    for username, ip, at, failures in rows:
        for scope, key in ((LockScope.USERNAME, username), (LockScope.IP, ip)):
            if key:
                streaks.setdefault((scope, key), []).append((at, failures))
    locks = {}
    for (scope, key), found in streaks.items():
        lock = lock_from_streaks(scope, key, found, now=now)
        if lock is not None:
            locks[(scope, key)] = lock
    return locks


def lockout_message(lock: SignInLock, *, now: datetime) -> str:
    minutes = max(1, -(-int((lock.until - now).total_seconds()) // 60))
    who = (
        "this username"
        if lock.scope == LockScope.USERNAME
        else "your network address (too many different sign-ins from it)"
    )
    return (
        f"Too many failed sign-ins for {who}: signing in is locked until "
        f"{lock.until:%H:%M} UTC ({minutes} minute{'s' if minutes != 1 else ''}). "
        "Try again then, or ask support to lift the lock in the admin under Sign-in lockouts."
    )


def request_lock(request: HttpRequest, credentials: dict[str, Any] | None) -> SignInLock | None:
    """The lock on this sign-in attempt (axes has set the request's address and time)."""
    return signin_lock(
        username=get_client_username(request, credentials),
        ip=getattr(request, "axes_ip_address", None),
        now=request.axes_attempt_time,  # type: ignore[attr-defined]
    )


class SignInLockHandler(AxesDatabaseHandler):
    """Axes' database handler with the portal's two limits (AXES_HANDLER)."""

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        return request_lock(request, credentials) is not None

    def user_login_failed(
        self,
        sender: Any,
        credentials: dict[str, Any],
        request: HttpRequest | None = None,
        **kwargs: Any,
    ) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or request.axes_locked_out:  # type: ignore[attr-defined]
            return  # refused while already locked: not counted, nothing new to tell
        lock = request_lock(request, credentials)
        if lock is None:
            return
        request.axes_locked_out = True  # type: ignore[attr-defined]
        request.axes_credentials = credentials  # type: ignore[attr-defined]
        logger.warning(
            "Sign-in locked for %s %s until %s after %d failures",
            lock.scope.label.lower(),
            lock.key,
            lock.until.isoformat(),
            lock.failures,
        )
        user_locked_out.send(
            "axes",
            request=request,
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
        )

    def reset_user_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None = None
    ) -> int:
        """A good sign-in clears that username's failures; the address keeps the rest, or
        signing in to one's own account now and then would hide a spray from the same place."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return int(count)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the sign-in page, which already says why and until when, sent
    with 429."""
    if original_response is not None and original_response.status_code == 200:
        original_response.status_code = 429
        return original_response
    lock = request_lock(request, credentials)
    message = lockout_message(lock, now=request.axes_attempt_time) if lock else "Sign-in locked."  # type: ignore[attr-defined]
    return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
