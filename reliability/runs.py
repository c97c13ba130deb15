"""What the load and soak runs share: the run's Django set-up, the pushed company, the
periodic sweeps production's beat would send, and the figures of Codat calls."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from reliability.stack import Config

logger = logging.getLogger("reliability")


def django_for(config: Config) -> None:
    """Configure this process as one more process of the run (the same settings and broker)."""
    os.environ.update(config.env())
    os.environ["LOG_LEVEL"] = "WARNING"  # this process prints its own report
    os.environ["DJANGO_SETTINGS_MODULE"] = "sfe_portal.settings"
    import django

    django.setup()


@dataclass
class Sweeper:
    """Sends what beat sends (the portal's sweep and the sandbox's), every `every_s` seconds.

    The run's staleness thresholds are shorter than production's (2 and 15 minutes) so that a
    run lasts minutes, not hours; the code path is the same."""

    every_s: float
    stale_poll_s: float
    stale_initiating_s: float
    sent: int = 0
    refused: int = 0
    _last: float = 0.0

    def tick(self, now: float) -> None:
        if now - self._last < self.every_s:
            return
        self._last = now
        from sandbox.tasks import sweep_task
        from syncs.tasks import sweep

        try:
            sweep.delay(stale_poll_s=self.stale_poll_s, stale_initiating_s=self.stale_initiating_s)
            sweep_task.delay()
            self.sent += 1
        except Exception as exc:  # the broker is down: beat would miss this beat too
            self.refused += 1
            logger.warning("sweep not sent (%s)", exc.__class__.__name__)


def codat_call_figures() -> dict[str, int]:
    """Codat calls the portal made, by outcome, from its exchange log."""
    from django.db.models import Q

    from gateway.models import CodatExchange

    calls = CodatExchange.objects.all()
    return {
        "codat_calls": calls.count(),
        "answered_429": calls.filter(status=429).count(),
        "answered_5xx": calls.filter(status__gte=500).count(),
        "no_answer (timeouts, resets)": calls.filter(Q(status__isnull=True) | Q(status=0)).count(),
    }


def codat_calls_by_kind() -> dict[str, int]:
    """Codat calls the portal made, by method and path (ids left out), most first."""
    from collections import Counter

    from gateway.models import CodatExchange

    kinds: Counter[str] = Counter()
    for method, path in CodatExchange.objects.values_list("method", "path").iterator():
        kinds[f"{method} {call_kind(path)}"] += 1
    return dict(kinds.most_common())


def call_kind(path: str) -> str:
    """A Codat path without its ids or query: `sync/expenses/syncs/{id}/status`."""
    words = path.split("?", 1)[0].strip("/").split("/")
    if words[:1] == ["companies"]:
        words = words[2:]
    return "/".join("{id}" if _is_id(word) else word for word in words)


def _is_id(word: str) -> bool:
    return len(word) >= 16 and any(c.isdigit() for c in word)


def wait_until(
    condition: Callable[[], bool], *, timeout_s: float, what: str, tick: Callable[[], None]
) -> float:
    """Poll `condition` once a second (the workers are other processes); returns seconds
    waited, or raises when the run's bound is reached."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"gave up after {timeout_s:.0f}s waiting for {what}")
        tick()
        time.sleep(1.0)
    return time.monotonic() - started
