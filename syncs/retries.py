"""Riding out Codat's transient failures (5xx, 429, timeouts): which failures are worth another
try, how long to wait before it, and how many tries in a row before leaving the work to the
sweeper.

The worker's tasks wait by queueing themselves again with a countdown. `sync_now --wait` runs the
same steps in the foreground and waits here (`ForegroundWait`), with the same waits and bound,
within a time budget; its clock and sleep are injectable, so tests never really wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from codat import CodatIdempotencyInFlightError, CodatRateLimitedError, CodatUnavailableError
from codat.backoff import Backoff
from gateway.call_slots import CallSlotsBusy, codat_call_slot
from syncs.initiate import InitiationInFlight

# A 409 to a keyed write: the first request with the key is still running.
TRANSIENT = (
    CodatUnavailableError,
    CodatRateLimitedError,
    CodatIdempotencyInFlightError,
    InitiationInFlight,
)
# Tries in a row that may fail before the work is left to the sweeper.
MAX_RETRIES = 10
BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 300.0
WORKER_BACKOFF = Backoff(first=BACKOFF_BASE_S, cap=BACKOFF_CAP_S)

T = TypeVar("T")


def retry_in(*, retries: int, exc: Exception) -> float:
    """Codat's Retry-After when it gave one, else exponential backoff from 5 seconds (`retries`
    tries already failed in a row before this one), capped at 5 minutes."""
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        return float(retry_after)
    return WORKER_BACKOFF.delay(retries)


def send_batches_next_try(*, stalls: int, progressed: bool, exc: Exception) -> tuple[int, float]:
    """After a transient failure in a turn: (turns in a row that posted nothing, seconds to
    wait). A turn that posted datasets before the fault resets the backoff: under steady
    intermittent errors a long push keeps moving instead of backing off over the whole push."""
    stalls = 0 if progressed else stalls + 1
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        return stalls, float(retry_after)
    return stalls, retry_in(retries=stalls - 1, exc=exc) if stalls else 1.0


class GaveUp(Exception):
    """A wait would overrun the time budget, or a transient failure outlasted `MAX_RETRIES`
    tries in a row. Nothing is lost: the worker's sweeper resumes what was left."""


@dataclass
class ForegroundWait:
    """Waits in the foreground for one company's work, within `budget_s` seconds in all."""

    company_id: int
    holder: str
    budget_s: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.budget_s

    def wait(self, seconds: float, *, why: str) -> None:
        """Sleep `seconds`, or raise `GaveUp` (saying `why`) when that would overrun the budget."""
        if self.clock() + seconds > self.deadline:
            raise GaveUp(f"{why}, and its time budget ({self.budget_s / 60:g} min) is spent")
        self.sleep(max(0.0, seconds))

    def when_free(self, call: Callable[[], T]) -> T:
        """`call`, which takes the company's call slots itself, tried again after the wait a
        task would be queued again with while every slot is taken."""
        while True:
            try:
                return call()
            except CallSlotsBusy as busy:
                self.wait(busy.retry_in, why="the company's Codat call slots stayed taken")

    def in_slot(self, call: Callable[[], T]) -> T:
        """`call` in one of the company's Codat call slots, once one is free."""

        def held() -> T:
            with codat_call_slot(self.company_id, holder=self.holder):
                return call()

        return self.when_free(held)

    def retrying(self, call: Callable[[], T]) -> T:
        """`call` as a task runs it: tried again after a transient failure with the worker's
        backoff, at most `MAX_RETRIES` times in a row."""
        retries = 0
        while True:
            try:
                return call()
            except TRANSIENT as exc:
                if retries >= MAX_RETRIES:
                    raise GaveUp(f"Codat failed {retries + 1} times in a row ({exc})") from exc
                self.wait(retry_in(retries=retries, exc=exc), why=f"Codat kept failing ({exc})")
                retries += 1
