"""The health score: 100 when all is well, each problem costing what the formula says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from syncs.health import HEALTH_FORMULA, HealthInputs, health_score

WELL = HealthInputs(
    connected=True,
    failure_rate=0.0,
    backlog_age=None,
    master_data_age=timedelta(hours=3),
    stuck_syncs=0,
)


def _with(**changes):
    return HealthInputs(**{**WELL.__dict__, **changes})


def test_a_company_with_nothing_wrong_scores_100():
    assert health_score(WELL) == 100


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"connected": False}, 65),
        ({"failure_rate": 0.5}, 85),
        ({"failure_rate": 1.0}, 70),
        ({"backlog_age": timedelta(days=1)}, 95),
        ({"backlog_age": timedelta(days=30)}, 85),  # capped at 15
        ({"master_data_age": timedelta(days=8)}, 90),
        ({"master_data_age": None}, 90),  # never pulled
        ({"stuck_syncs": 3}, 90),
    ],
)
def test_each_problem_costs_what_the_formula_says(changes, expected):
    assert health_score(_with(**changes)) == expected


def test_everything_wrong_at_once_scores_zero_and_never_less():
    worst = HealthInputs(
        connected=False,
        failure_rate=1.0,
        backlog_age=timedelta(days=90),
        master_data_age=None,
        stuck_syncs=5,
    )

    assert health_score(worst) == 0
    assert health_score(_with(failure_rate=7.0, connected=False)) >= 0


def test_worse_inputs_never_score_higher():
    assert health_score(_with(failure_rate=0.2)) > health_score(_with(failure_rate=0.4))
    assert health_score(_with(backlog_age=timedelta(hours=6))) > health_score(
        _with(backlog_age=timedelta(days=2))
    )


def test_the_formula_shown_to_support_names_every_term():
    for term in ("connection", "failure rate", "backlog", "master data", "stuck"):
        assert term in HEALTH_FORMULA
