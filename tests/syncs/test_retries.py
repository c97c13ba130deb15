"""Waiting in the foreground (`sync_now --wait`) as the worker's tasks wait: the same backoff,
the same bound on tries in a row, and never past the time budget."""

import pytest

from codat import CodatRateLimitedError, CodatUnavailableError
from syncs.retries import MAX_RETRIES, ForegroundWait, GaveUp, retry_in
from tests.codat.conftest import FakeTime


def _wait(clock: FakeTime, budget_s: float = 3600) -> ForegroundWait:
    return ForegroundWait(
        company_id=1, holder="test", budget_s=budget_s, clock=clock.clock, sleep=clock.sleep
    )


def test_the_worker_backoff_doubles_from_five_seconds_up_to_five_minutes():
    unavailable = CodatUnavailableError("down", status=503)

    waits = [retry_in(retries=n, exc=unavailable) for n in range(8)]
    longest = [5, 10, 20, 40, 80, 160, 300, 300]
    # Each wait is up to a fifth shorter at random, so failures together come back apart.
    assert all(0.8 * most <= wait <= most for wait, most in zip(waits, longest, strict=True))


def test_codat_retry_after_wins_over_the_backoff():
    assert retry_in(retries=4, exc=CodatRateLimitedError("slow down", retry_after=7)) == 7.0


def test_a_call_that_recovers_is_retried_with_the_worker_backoff():
    clock = FakeTime()
    errors = [
        CodatUnavailableError("down", status=503),
        CodatRateLimitedError("slow", retry_after=2),
    ]

    def call() -> str:
        if errors:
            raise errors.pop(0)
        return "done"

    assert _wait(clock).retrying(call) == "done"
    first, second = clock.sleeps
    assert 4.0 <= first <= 5.0
    assert second == 2.0  # Codat's Retry-After, exactly


def test_retrying_gives_up_after_as_many_tries_in_a_row_as_a_task():
    clock = FakeTime()
    tries = []

    def call() -> None:
        tries.append(clock.now)
        raise CodatUnavailableError("down", status=503)

    with pytest.raises(GaveUp, match=f"failed {MAX_RETRIES + 1} times in a row"):
        _wait(clock, budget_s=24 * 3600).retrying(call)
    assert len(tries) == MAX_RETRIES + 1


def test_a_wait_past_the_budget_gives_up_without_sleeping():
    clock = FakeTime()
    wait = _wait(clock, budget_s=60)
    wait.wait(50, why="busy")

    with pytest.raises(GaveUp, match=r"busy, and its time budget \(1 min\) is spent"):
        wait.wait(11, why="busy")
    assert clock.sleeps == [50]
