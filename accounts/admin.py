from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.forms import AdminSignInForm
from accounts.lockouts import LockScope, cool_off, signin_locks_now
from accounts.models import SignInLockout

logger = logging.getLogger(__name__)

# The admin's own sign-in page honours the locks and says why, like the portal's.
admin.site.login_form = AdminSignInForm


@admin.register(SignInLockout)
class SignInLockoutAdmin(admin.ModelAdmin):
    """Failed sign-ins still counting, with the lock each row takes part in; support lifts a
    lock here (or with `manage.py axes_reset_username` / `axes_reset_ip`)."""

    search_fields = ("username", "ip_address")
    readonly_fields = (
        "username",
        "ip_address",
        "user_agent",
        "failures_since_start",
        "attempt_time",
        "path_info",
    )
    fields = readonly_fields
    ordering = ("-attempt_time",)
    actions = ["lift"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SignInLockout]:
        return super().get_queryset(request).filter(attempt_time__gte=timezone.now() - cool_off())

    def get_list_display(
        self, request: HttpRequest
    ) -> tuple[str | Callable[[Any], str | bool], ...]:
        locks = signin_locks_now(now=timezone.now())  # once per page, not once per row

        @admin.display(description="Locked")
        def lock(row: SignInLockout) -> str:
            keys = ((LockScope.USERNAME, row.username), (LockScope.IP, row.ip_address))
            found = [lock for key in keys if key[1] and (lock := locks.get(key))]
            return (
                "; ".join(
                    f"{lock.scope.label} until {timezone.localtime(lock.until):%H:%M %Z}"
                    for lock in found
                )
                or "—"
            )

        return ("username", "address", "failures", "last_failure", lock)

    @admin.display(description="Client address", ordering="ip_address")
    def address(self, row: SignInLockout) -> str:
        return row.ip_address or "—"

    @admin.display(description="Failures", ordering="failures_since_start")
    def failures(self, row: SignInLockout) -> int:
        return row.failures_since_start

    @admin.display(description="Last failure", ordering="attempt_time")
    def last_failure(self, row: SignInLockout) -> object:
        return row.attempt_time

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # lifting is the way: it takes the username's and the address's rows

    @admin.action(description="Lift the selected locks now", permissions=["change"])
    def lift(self, request: HttpRequest, queryset: QuerySet[SignInLockout]) -> None:
        lifted = sorted(
            {str(key) for row in queryset for key in (row.username, row.ip_address) if key}
        )
        for row in queryset:
            AxesProxyHandler.reset_attempts(
                username=row.username, ip_address=row.ip_address, ip_or_username=True
            )
        logger.warning("Sign-in locks lifted by %s: %s", request.user, ", ".join(lifted))
        messages.success(
            request, f"Lifted the locks on {', '.join(lifted)}: they can sign in again now."
        )
