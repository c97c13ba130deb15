"""The requests-per-minute limit and injected faults, decided before the operation runs and never
applied to the control surface."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.api import runtime
from sandbox.models import SandboxCompany, SandboxSettings
from tests.sandbox.conftest import Api


@pytest.fixture
def slept() -> Iterator[list[float]]:
    """Replace the fault sleep so latency and stalls are recorded instead of waited for."""
    calls: list[float] = []
    real = runtime.sleep
    runtime.sleep = calls.append
    yield calls
    runtime.sleep = real


def test_the_per_key_limit_answers_429_with_retry_after(api: Api) -> None:
    SandboxSettings.objects.filter(pk=1).update(rate_limit_per_minute=3)

    responses = [api.get("/companies") for _ in range(4)]

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0]["X-Rate-Limit-Limit"] == "3"
    assert responses[0]["X-Rate-Limit-Remaining"] == "2"
    assert responses[2]["X-Rate-Limit-Remaining"] == "0"
    assert responses[0]["X-Rate-Limit-Reset"].endswith("Z")
    limited = responses[3]
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert limited.json()["statusCode"] == 429
    assert limited.json()["error"] == (
        "You have made too many requests in a given amount of time; please retry later."
    )


def test_the_control_surface_is_not_rate_limited(api: Api) -> None:
    SandboxSettings.objects.filter(pk=1).update(rate_limit_per_minute=1)
    api.get("/companies")
    assert [api.get("/_sandbox/faults").status_code for _ in range(3)] == [200, 200, 200]


def test_faults_need_the_api_key(api: Api) -> None:
    assert api.client.put("/codat-sandbox/_sandbox/faults", "{}").status_code == 401


def test_an_error_rate_of_one_fails_every_request_before_it_writes(api: Api) -> None:
    assert api.put("/_sandbox/faults", {"error_rate": 1.0, "error_status": 503}).status_code == 200

    response = api.post("/companies", {"name": "Never created"})

    assert response.status_code == 503
    assert response.json()["statusCode"] == 503
    assert response.json()["error"] == (
        "The Codat API is temporarily offline for maintenance. Please try again later."
    )
    assert not SandboxCompany.objects.exists()
    assert api.call("DELETE", "/_sandbox/faults").status_code == 204
    assert api.post("/companies", {"name": "Created"}).status_code == 200


def test_a_partial_error_rate_is_deterministic_for_a_seed(api: Api) -> None:
    def run() -> list[int]:
        api.put("/_sandbox/faults", {"error_rate": 0.5, "error_status": 502, "seed": 7})
        return [api.get("/companies").status_code for _ in range(20)]

    first, second = run(), run()

    assert first == second
    assert set(first) == {200, 502}


def test_rate_limit_every_n_requests(api: Api) -> None:
    api.put("/_sandbox/faults", {"rate_limit_every": 3, "retry_after_s": 7})

    codes = [api.get("/companies") for _ in range(6)]

    assert [r.status_code for r in codes] == [200, 200, 429, 200, 200, 429]
    assert codes[2]["Retry-After"] == "7"


def test_latency_is_added_before_the_answer(api: Api, slept: list[float]) -> None:
    api.put("/_sandbox/faults", {"latency_ms": 250})
    assert api.get("/companies").status_code == 200
    assert slept == [0.25]


def test_a_timeout_stalls_and_then_fails(api: Api, slept: list[float]) -> None:
    api.put("/_sandbox/faults", {"timeout_rate": 1.0, "timeout_stall_ms": 1500})

    response = api.post("/companies", {"name": "Stalled"})

    assert slept == [1.5]
    assert response.status_code == 504
    assert not SandboxCompany.objects.exists()


def test_faults_never_touch_the_control_surface(api: Api) -> None:
    api.put("/_sandbox/faults", {"error_rate": 1.0})
    assert api.get("/_sandbox/faults").status_code == 200
    assert api.put("/_sandbox/settings", {"sync_delay_ms": 10}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"error_rate": 1.5},
        {"error_status": 404},
        {"rate_limit_every": -1},
        {"latency_ms": "slow"},
        {"surprise": 1},
    ],
)
def test_bad_fault_settings_are_refused(api: Api, body: dict[str, object]) -> None:
    response = api.put("/_sandbox/faults", body)
    assert response.status_code == 400
    assert response.json()["validation"]["errors"]


def test_settings_are_validated_and_persisted(api: Api) -> None:
    ok = api.put(
        "/_sandbox/settings",
        {
            "sync_delay_ms": 1500,
            "webhook_url": "http://127.0.0.1:9/hook",
            "webhook_secret": "whsec_abc=",
        },
    )
    assert ok.status_code == 200
    row = SandboxSettings.objects.get(pk=1)
    assert (row.sync_delay_ms, row.webhook_url, row.webhook_secret) == (
        1500,
        "http://127.0.0.1:9/hook",
        "whsec_abc=",
    )
    assert api.put("/_sandbox/settings", {"webhook_secret": "plain"}).status_code == 400
    assert api.put("/_sandbox/settings", {"sync_delay_ms": -5}).status_code == 400
    assert api.put("/_sandbox/settings", {"webhook_url": "ftp://x"}).status_code == 400
