"""When and how long the client waits before trying a failed call again."""

from __future__ import annotations

from dataclasses import dataclass, field

from codat.backoff import Backoff


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with a hard bound on the total time spent waiting.

    Reads are retried on `retry_statuses`. A POST/PUT without an `Idempotency-Key` could write
    an expense twice, so it fails at once and the push pipeline decides; one with a key is
    resent under the same key only after a timeout, a broken connection or a 429 (the answers
    Codat has not cached for the key), with these same delays. The bound exists because the
    official SDK's default (back off for up to an hour) would pin a worker; a Celery retry
    later is the better wait.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total_wait: float = 60.0
    # Each wait shortened at random by up to this fraction (`Backoff`).
    jitter: float = 0.2
    retry_statuses: frozenset[int] = field(
        default_factory=lambda: frozenset({408, 429, 500, 502, 503, 504})
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_total_wait) < 0:
            raise ValueError("delays must not be negative")

    def next_delay(self, attempt: int, elapsed: float, retry_after: float | None) -> float | None:
        """Seconds to sleep before attempt `attempt + 1`, or None to give up.

        `attempt` counts the attempts made so far (1 after the first failure) and `elapsed`
        is the time spent since the first attempt started. A `Retry-After` longer than
        `max_delay` or than what is left of the budget ends the retries: waiting less than Codat
        asked would only earn another 429, so the caller gets the error with its `retry_after`.
        """
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            delay = retry_after
            if delay > self.max_delay:
                return None
        else:
            delay = Backoff(first=self.base_delay, cap=self.max_delay, jitter=self.jitter).delay(
                attempt - 1
            )
        if elapsed + delay > self.max_total_wait:
            return None
        return delay


NO_RETRY = RetryPolicy(max_attempts=1)
