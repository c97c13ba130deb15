"""The notices' one clock: every time they record, wait for or send by is read from `now`, which
tests replace with a `tests.fake_clock.FakeClock` and move by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

now: Callable[[], datetime] = timezone.now
