"""How long to wait before trying again: one schedule for every retry and poll of the portal."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Waits growing by `factor` from `first` to at most `cap` seconds, each shortened at random
    by up to `jitter` (a fraction of it), so that calls that failed together (200 batches of a
    push, every company after an outage) do not come back together."""

    first: float
    cap: float
    factor: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if min(self.first, self.cap) < 0 or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("a backoff needs waits >= 0, a factor >= 1 and a jitter in [0, 1)")

    def delay(self, attempt: int, *, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after `attempt` earlier waits in a row (0: the first wait)."""
        longest = min(self.cap, self.first * self.factor ** max(0, attempt))
        return longest * (1 - self.jitter * rng())
