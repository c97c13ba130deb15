"""The day Codat switches Sync for Expenses v1 off (`CODAT_V1_SHUTDOWN_DATE`, 2027-05-01).

From that day a company still on v1 cannot push (its push is refused before any claim, naming the
cut-over as the fix) and no company can be moved back to v1. Before it, the dashboard counts the
days left. The day is read in the portal's `TIME_ZONE` from `clock`, which tests replace: nothing
waits for a date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.utils import timezone

from companies.models import Company
from companies.platforms import ApiGeneration
from syncs.plain_words import v1_switched_off

clock: Callable[[], datetime] = timezone.now


def v1_shutdown_date() -> date:
    shutdown: date = settings.CODAT_V1_SHUTDOWN_DATE
    return shutdown


def _today(now: datetime | None) -> date:
    return timezone.localdate(now if now is not None else clock())


def v1_is_switched_off(*, now: datetime | None = None) -> bool:
    """Whether Codat no longer serves v1 at `now` (default: the clock's now)."""
    return _today(now) >= v1_shutdown_date()


def v1_push_refusal(*, company: Company, now: datetime | None = None) -> str:
    """Why the company cannot push because it still speaks v1 after the shutdown; empty when
    that does not stop it."""
    if company.expenses_api != ApiGeneration.V1 or not v1_is_switched_off(now=now):
        return ""
    return v1_switched_off(company, on=v1_shutdown_date())


@dataclass(frozen=True)
class V1Countdown:
    """The dashboard's tile: the companies still to move, and the days left to move them."""

    companies: int
    shutdown: date
    days_left: int

    @property
    def switched_off(self) -> bool:
        return self.days_left == 0


def v1_countdown(*, companies: int, now: datetime | None = None) -> V1Countdown:
    """The countdown at `now` (default: the clock's now) for `companies` still on v1."""
    shutdown = v1_shutdown_date()
    return V1Countdown(
        companies=companies, shutdown=shutdown, days_left=max(0, (shutdown - _today(now)).days)
    )
