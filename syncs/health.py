"""A company's sync health as one number from 0 (needs attention now) to 100 (all well).

Pure: the inputs are figures the dashboard already reads, so the formula is tested on its own
and shown to support staff word for word (`HEALTH_FORMULA`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# What each problem costs, at most. The sum of the maxima is 100.
DISCONNECTED_PENALTY = 35
FAILURE_RATE_MAX_PENALTY = 30  # times the share of failed transactions in the range
BACKLOG_PER_DAY = 5  # per day the oldest approved expense has waited
BACKLOG_MAX_PENALTY = 15
STALE_MASTER_DATA_AFTER = timedelta(days=7)
STALE_MASTER_DATA_PENALTY = 10
STUCK_PENALTY = 10  # a sync running longer than 10 minutes (or code 1010)

HEALTH_FORMULA = (
    f"100 − {DISCONNECTED_PENALTY} if the connection is not ready"
    f" − {FAILURE_RATE_MAX_PENALTY} × failure rate"
    f" − {BACKLOG_PER_DAY} per day of backlog (at most {BACKLOG_MAX_PENALTY})"
    f" − {STALE_MASTER_DATA_PENALTY} if master data is older than"
    f" {STALE_MASTER_DATA_AFTER.days} days or was never pulled"
    f" − {STUCK_PENALTY} if a sync is stuck; never below 0."
)


@dataclass(frozen=True)
class HealthInputs:
    connected: bool
    failure_rate: float  # 0.0 to 1.0: failed transactions / all transactions in the range
    backlog_age: timedelta | None  # age of the oldest approved, unpushed expense
    master_data_age: timedelta | None  # None: never pulled
    stuck_syncs: int


def health_score(inputs: HealthInputs) -> int:
    """0 to 100 following `HEALTH_FORMULA`; lower is worse."""
    score = 100.0
    if not inputs.connected:
        score -= DISCONNECTED_PENALTY
    score -= FAILURE_RATE_MAX_PENALTY * min(1.0, max(0.0, inputs.failure_rate))
    if inputs.backlog_age is not None and inputs.backlog_age > timedelta(0):
        days = inputs.backlog_age / timedelta(days=1)
        score -= min(float(BACKLOG_MAX_PENALTY), BACKLOG_PER_DAY * days)
    if inputs.master_data_age is None or inputs.master_data_age > STALE_MASTER_DATA_AFTER:
        score -= STALE_MASTER_DATA_PENALTY
    if inputs.stuck_syncs > 0:
        score -= STUCK_PENALTY
    return max(0, round(score))
