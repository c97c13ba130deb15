"""Fixtures for the client's unit tests: HTTP mocked with `responses`, time faked, and every
request the client sent checked against Codat's OpenAPI document after each test (v1, unless a
module overrides `codat_document` with "expenses")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import responses

from codat import CodatClient, Exchange, RetryPolicy
from tests.codat.conformance import Document, assert_conforms

BASE_URL = "https://api.codat.io"
API_KEY = "test-api-key-9f8e7d"
COMPANY_ID = "8a210b68-6988-11ed-a1eb-0242ac120002"
CONNECTION_ID = "2e9d2c44-f675-40ba-8049-353bfcb5e171"
SYNC_ID = "6fb40d5e-b13e-11ed-afa1-0242ac120002"
TRANSACTION_ID = "336694d8-2dca-4cb5-a28d-3ccb83e55eee"
DATASET_ID = "cd937d46-8e41-43a9-9477-a79158ffd98a"


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps (or a test says so)."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def codat_document() -> Document:
    """The generation whose document the requests are held to; a module may override it."""
    return "v1"


@pytest.fixture
def http(codat_document: Document) -> Iterator[responses.RequestsMock]:
    """Mocked Codat. On teardown every captured request must conform to `codat_document`."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        assert_conforms([call.request for call in mock.calls], document=codat_document)


@pytest.fixture
def exchanges() -> list[Exchange]:
    return []


@pytest.fixture
def make_client(fake_time: FakeTime, exchanges: list[Exchange]) -> Callable[..., CodatClient]:
    def make(**overrides: object) -> CodatClient:
        options: dict[str, object] = {
            "timeout": (3.0, 20.0),
            "on_exchange": exchanges.append,
            "retry_policy": RetryPolicy(
                max_attempts=4, base_delay=1.0, max_delay=8.0, max_total_wait=20.0, jitter=0.0
            ),
            "sleep": fake_time.sleep,
            "clock": fake_time.clock,
        }
        options.update(overrides)
        return CodatClient(BASE_URL, API_KEY, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def client(make_client: Callable[..., CodatClient]) -> CodatClient:
    return make_client()


def company_url(suffix: str = "") -> str:
    return f"{BASE_URL}/companies/{COMPANY_ID}{suffix}"


def error_body(status: int, message: str, **extra: object) -> dict[str, object]:
    return {
        "statusCode": status,
        "service": "PublicApi",
        "error": message,
        "correlationId": f"corr-{status}",
        "canBeRetried": "Unknown",
        "detailedErrorCode": 0,
        **extra,
    }
