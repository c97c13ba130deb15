"""Reads are retried with bounded backoff; writes never are. No test really sleeps."""

from __future__ import annotations

import pytest
import requests

from codat import (
    CodatError,
    CodatRateLimitedError,
    CodatUnavailableError,
    CodatValidationError,
    CompanyConfiguration,
    ExpenseUpdate,
    RetryPolicy,
)
from tests.codat.conftest import COMPANY_ID, TRANSACTION_ID, company_url, error_body

COMPANY = {"id": COMPANY_ID, "name": "Acme"}


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_get_is_retried_after_a_transient_status(http, client, fake_time, status):
    http.get(company_url(), status=status, json=error_body(status, "busy"))
    http.get(company_url(), json=COMPANY)

    company = client.get_company(COMPANY_ID)

    assert company.id == COMPANY_ID
    assert len(http.calls) == 2
    assert fake_time.sleeps == [1.0]


@pytest.mark.parametrize(
    "failure",
    [requests.ConnectTimeout("c"), requests.ReadTimeout("r"), requests.ConnectionError("x")],
)
def test_a_get_is_retried_after_a_timeout_or_connection_error(http, client, fake_time, failure):
    http.get(company_url(), body=failure)
    http.get(company_url(), json=COMPANY)

    assert client.get_company(COMPANY_ID).name == "Acme"
    assert fake_time.sleeps == [1.0]


def test_backoff_doubles_and_is_capped_until_attempts_run_out(
    http, make_client, fake_time, exchanges
):
    for _ in range(5):
        http.get(company_url(), status=503, json=error_body(503, "maintenance"))
    client = make_client(
        retry_policy=RetryPolicy(
            max_attempts=5, base_delay=1.0, max_delay=3.0, max_total_wait=100.0, jitter=0.0
        )
    )

    with pytest.raises(CodatUnavailableError) as raised:
        client.get_company(COMPANY_ID)

    assert fake_time.sleeps == [1.0, 2.0, 3.0, 3.0]
    assert len(http.calls) == 5
    assert [e.attempt for e in exchanges] == [1, 2, 3, 4, 5]
    assert raised.value.status == 503


def test_retry_after_is_honoured_instead_of_the_backoff(http, client, fake_time):
    http.get(
        company_url(), status=429, headers={"Retry-After": "7"}, json=error_body(429, "slow down")
    )
    http.get(company_url(), json=COMPANY)

    client.get_company(COMPANY_ID)

    assert fake_time.sleeps == [7.0]


def test_a_retry_after_longer_than_the_cap_raises_at_once_with_its_value(http, client, fake_time):
    http.get(
        company_url(),
        status=429,
        headers={"Retry-After": "3600"},
        json=error_body(429, "daily quota"),
    )

    with pytest.raises(CodatRateLimitedError) as raised:
        client.get_company(COMPANY_ID)

    assert raised.value.retry_after == 3600.0
    assert fake_time.sleeps == []
    assert len(http.calls) == 1


def test_the_total_wait_is_bounded_whatever_codat_answers(http, make_client, fake_time):
    for _ in range(50):
        http.get(
            company_url(), status=429, headers={"Retry-After": "6"}, json=error_body(429, "busy")
        )
    client = make_client(
        retry_policy=RetryPolicy(
            max_attempts=50, base_delay=1.0, max_delay=8.0, max_total_wait=20.0, jitter=0.0
        )
    )

    with pytest.raises(CodatRateLimitedError):
        client.get_company(COMPANY_ID)

    assert fake_time.sleeps == [6.0, 6.0, 6.0]
    assert sum(fake_time.sleeps) <= 20.0


def test_time_spent_waiting_for_answers_counts_against_the_budget(http, make_client, fake_time):
    def slow_failure(request):
        fake_time.now += 9.0  # each attempt times out after 9 s of (fake) waiting
        raise requests.ReadTimeout("read timed out")

    from responses import GET

    http.add_callback(GET, company_url(), callback=slow_failure)
    client = make_client(
        retry_policy=RetryPolicy(
            max_attempts=10, base_delay=1.0, max_delay=8.0, max_total_wait=20.0, jitter=0.0
        )
    )

    with pytest.raises(CodatUnavailableError):
        client.get_company(COMPANY_ID)

    assert fake_time.sleeps == [1.0]
    assert len(http.calls) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_a_get_is_not_retried_after_a_permanent_error(http, client, fake_time, status):
    http.get(company_url(), status=status, json=error_body(status, "no"))

    with pytest.raises(CodatError) as raised:
        client.get_company(COMPANY_ID)

    assert raised.value.status == status
    assert len(http.calls) == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize(
    "failure", [503, 429, requests.ReadTimeout("r"), requests.ConnectionError("x")]
)
def test_posts_are_never_retried(http, client, fake_time, failure):
    url = company_url("/sync/expenses/config")
    if isinstance(failure, int):
        http.post(
            url, status=failure, json=error_body(failure, "busy"), headers={"Retry-After": "1"}
        )
    else:
        http.post(url, body=failure)
    http.post(url, json={"bankAccount": {}, "supplier": {}, "customer": {}})

    with pytest.raises((CodatUnavailableError, CodatRateLimitedError)):
        client.save_company_configuration(COMPANY_ID, CompanyConfiguration("1", "2", "3"))

    assert len(http.calls) == 1
    assert fake_time.sleeps == []


def test_puts_are_never_retried(http, client, fake_time):
    http.put(
        company_url(f"/sync/expenses/expense-transactions/{TRANSACTION_ID}"),
        status=500,
        json=error_body(500, "There is a problem with our server."),
    )

    with pytest.raises(CodatUnavailableError):
        client.update_expense(
            COMPANY_ID,
            TRANSACTION_ID,
            ExpenseUpdate(type="Payment", issue_date="2024-01-01T00:00:00Z"),
        )

    assert len(http.calls) == 1


def test_a_policy_of_one_attempt_never_retries(http, make_client, fake_time):
    http.get(company_url(), status=503, json=error_body(503, "busy"))

    with pytest.raises(CodatUnavailableError):
        make_client(retry_policy=RetryPolicy(max_attempts=1)).get_company(COMPANY_ID)

    assert fake_time.sleeps == []


def test_a_retried_error_that_turns_permanent_stops_retrying(http, client, fake_time):
    http.get(company_url(), status=502, body="Bad Gateway")
    http.get(company_url(), status=400, json=error_body(400, "bad query"))

    with pytest.raises(CodatValidationError):
        client.get_company(COMPANY_ID)

    assert fake_time.sleeps == [1.0]


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_delay=-1)


def test_policy_delays():
    policy = RetryPolicy(
        max_attempts=4, base_delay=0.5, max_delay=2.0, max_total_wait=10.0, jitter=0.0
    )

    assert policy.next_delay(1, elapsed=0.0, retry_after=None) == 0.5
    assert policy.next_delay(3, elapsed=0.0, retry_after=None) == 2.0
    assert policy.next_delay(4, elapsed=0.0, retry_after=None) is None
    assert policy.next_delay(1, elapsed=9.9, retry_after=None) is None
    assert policy.next_delay(1, elapsed=0.0, retry_after=1.5) == 1.5
    assert policy.next_delay(1, elapsed=0.0, retry_after=2.5) is None
