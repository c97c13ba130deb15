"""Sign-in throttling: N failures in a window lock a username, or a client IP, for M minutes.

Counted in the database so that every web process sees the same failures. `clock` is the
module's time source; tests replace it instead of waiting for the window to pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import LockScope, SignInFailure, SignInLockout

logger = logging.getLogger(__name__)

clock: Callable[[], datetime] = timezone.now


@dataclass(frozen=True)
class ThrottleRules:
    username_failures: int
    ip_failures: int
    window: timedelta
    lock_for: timedelta


def throttle_rules() -> ThrottleRules:
    return ThrottleRules(
        username_failures=settings.SIGNIN_USERNAME_FAILURES,
        ip_failures=settings.SIGNIN_IP_FAILURES,
        window=timedelta(minutes=settings.SIGNIN_WINDOW_MINUTES),
        lock_for=timedelta(minutes=settings.SIGNIN_LOCKOUT_MINUTES),
    )


def username_key(username: str) -> str:
    """Usernames are matched case-insensitively, so 'Ada' and 'ada' share one count."""
    return username.strip().lower()[:150]


def signin_lockout_active(*, username: str, ip: str | None, now: datetime) -> SignInLockout | None:
    """The lock that refuses this sign-in now, if any (the one ending last)."""
    keys = Q(scope=LockScope.USERNAME, key=username_key(username))
    if ip:
        keys |= Q(scope=LockScope.IP, key=ip)
    return (
        SignInLockout.objects.filter(keys, until__gt=now, lifted_at__isnull=True)
        .order_by("-until")
        .first()
    )


@transaction.atomic
def signin_failure_record(*, username: str, ip: str | None, now: datetime) -> SignInLockout | None:
    """Record a refused sign-in; lock the username or the IP when it reaches its limit.

    The failures a lock is made of are folded into it (its `failures`), so once it ends the
    count starts again from zero.
    """
    rules = throttle_rules()
    key = username_key(username)
    SignInFailure.objects.create(username=key, ip=ip, at=now)
    since = now - rules.window
    SignInFailure.objects.filter(at__lte=since).delete()

    lockout: SignInLockout | None = None
    by_username = SignInFailure.objects.filter(username=key, at__gt=since)
    if key and by_username.count() >= rules.username_failures:
        lockout = SignInLockout.objects.create(
            scope=LockScope.USERNAME,
            key=key,
            failures=by_username.count(),
            locked_at=now,
            until=now + rules.lock_for,
        )
        by_username.delete()
    if ip:
        by_ip = SignInFailure.objects.filter(ip=ip, at__gt=since)
        if by_ip.count() >= rules.ip_failures:
            lockout = SignInLockout.objects.create(
                scope=LockScope.IP,
                key=ip,
                failures=by_ip.count(),
                locked_at=now,
                until=now + rules.lock_for,
            )
            by_ip.delete()
    if lockout is not None:
        logger.warning(
            "Sign-in locked for %s %s until %s after %d failures",
            lockout.get_scope_display().lower(),
            lockout.key,
            lockout.until.isoformat(),
            lockout.failures,
        )
    return lockout


def signin_success_record(*, username: str) -> None:
    """A good password clears that username's failures (the IP's count is left as it is)."""
    SignInFailure.objects.filter(username=username_key(username)).delete()


def signin_lockout_lift(*, lockout: SignInLockout, now: datetime) -> None:
    SignInLockout.objects.filter(pk=lockout.pk, lifted_at__isnull=True).update(lifted_at=now)


def lockout_message(lockout: SignInLockout, *, now: datetime) -> str:
    minutes = max(1, -(-int((lockout.until - now).total_seconds()) // 60))
    who = (
        "this username"
        if lockout.scope == LockScope.USERNAME
        else "your network address (too many different sign-ins from it)"
    )
    return (
        f"Too many failed sign-ins for {who}: signing in is locked until "
        f"{lockout.until:%H:%M} UTC ({minutes} minute{'s' if minutes != 1 else ''}). "
        "Try again then, or ask support to lift the lock in the admin under Sign-in lockouts."
    )
