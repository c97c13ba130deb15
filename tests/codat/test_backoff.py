"""The one schedule every retry and poll waits on: growing, capped, and spread at random."""

import pytest

from codat.backoff import Backoff


def test_waits_grow_by_the_factor_up_to_the_cap_without_jitter():
    backoff = Backoff(first=2, factor=1.5, cap=10, jitter=0)

    assert [backoff.delay(n) for n in range(6)] == [2, 3, 4.5, 6.75, 10, 10]


def test_jitter_only_ever_shortens_a_wait_and_by_at_most_its_fraction():
    backoff = Backoff(first=5, cap=300, jitter=0.2)

    assert backoff.delay(3, rng=lambda: 0.0) == 40
    assert backoff.delay(3, rng=lambda: 1.0) == pytest.approx(32)
    waits = {backoff.delay(3) for _ in range(200)}
    assert all(32 <= wait <= 40 for wait in waits)
    assert len(waits) > 100  # calls that failed together come back apart


def test_a_nonsense_schedule_is_refused():
    with pytest.raises(ValueError, match="jitter"):
        Backoff(first=1, cap=5, jitter=1.5)
    with pytest.raises(ValueError, match="factor"):
        Backoff(first=1, cap=5, factor=0.5)
