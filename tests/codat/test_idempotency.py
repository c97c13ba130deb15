"""Writes with an `Idempotency-Key`: resent with the same key only where Codat has cached no
answer for it (timeouts, broken connections, 429), and every idempotency answer typed."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from codat import (
    CodatIdempotencyConflictError,
    CodatIdempotencyInFlightError,
    CodatIdempotentServerError,
    CodatNotReadyError,
    CodatRateLimitedError,
    CodatUnavailableError,
    CodatUnprocessableError,
    CodatValidationError,
    ExpenseLineV2,
    ExpenseTransactionV2,
    TransferTransaction,
)
from tests.codat.conftest import COMPANY_ID, SYNC_ID, TRANSACTION_ID, company_url, error_body

EXPENSES_URL = company_url("/sync/expenses/expense-transactions")
KEY = "0b8e5a4e-7c9f-4b8e-9a51-6f1f2b3c4d5e"


@pytest.fixture
def codat_document() -> str:
    return "expenses"


def _create(client):
    expense = ExpenseTransactionV2(
        id=TRANSACTION_ID,
        type="Payment",
        issue_date="2024-05-21T00:00:00+00:00",
        currency="GBP",
        lines=(ExpenseLineV2(Decimal("10.00"), account_id="42"),),
    )
    return client.create_expense_transactions(COMPANY_ID, [expense], idempotency_key=KEY)


def _keys_sent(http) -> list[str | None]:
    return [call.request.headers.get("Idempotency-Key") for call in http.calls]


@pytest.mark.parametrize(
    "failure",
    [requests.ConnectTimeout("c"), requests.ReadTimeout("r"), requests.ConnectionError("x")],
)
def test_a_keyed_post_is_resent_with_the_same_key_after_a_timeout_or_broken_connection(
    http, client, fake_time, failure
):
    http.post(EXPENSES_URL, body=failure)
    http.post(EXPENSES_URL, json={"syncId": SYNC_ID})

    assert _create(client).sync_id == SYNC_ID
    assert _keys_sent(http) == [KEY, KEY]
    assert http.calls[0].request.body == http.calls[1].request.body
    assert fake_time.sleeps == [1.0]


def test_a_keyed_post_is_resent_after_a_429_when_retry_after_says(http, client, fake_time):
    http.post(EXPENSES_URL, status=429, headers={"Retry-After": "5"}, json=error_body(429, "slow"))
    http.post(EXPENSES_URL, json={"syncId": SYNC_ID})

    assert _create(client).sync_id == SYNC_ID
    assert _keys_sent(http) == [KEY, KEY]
    assert fake_time.sleeps == [5.0]


def test_a_429_asking_for_longer_than_the_cap_is_raised_with_its_wait_and_key(
    http, client, fake_time
):
    http.post(
        EXPENSES_URL, status=429, headers={"Retry-After": "3600"}, json=error_body(429, "quota")
    )

    with pytest.raises(CodatRateLimitedError) as raised:
        _create(client)

    assert raised.value.retry_after == 3600.0
    assert raised.value.idempotency_key == KEY
    assert len(http.calls) == 1


def test_timeouts_until_the_budget_ends_raise_unavailable_with_the_key_to_resend(
    http, client, fake_time
):
    for _ in range(4):
        http.post(EXPENSES_URL, body=requests.ReadTimeout("r"))

    with pytest.raises(CodatUnavailableError) as raised:
        _create(client)

    assert not isinstance(raised.value, CodatIdempotentServerError)
    assert raised.value.idempotency_key == KEY
    assert "outcome unknown" in str(raised.value)
    assert _keys_sent(http) == [KEY] * 4


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_an_answered_5xx_is_not_resent_and_says_codat_replays_it_for_the_key(
    http, client, fake_time, status
):
    http.post(EXPENSES_URL, status=status, json=error_body(status, "There is a problem"))
    http.post(EXPENSES_URL, json={"syncId": SYNC_ID})

    with pytest.raises(CodatIdempotentServerError) as raised:
        _create(client)

    error = raised.value
    assert isinstance(error, CodatUnavailableError)
    assert not error.transient
    assert error.status == status
    assert error.idempotency_key == KEY
    assert KEY in str(error)
    assert "90 minutes" in str(error)
    assert error.correlation_id == f"corr-{status}"
    assert len(http.calls) == 1
    assert fake_time.sleeps == []


def test_a_409_says_the_first_request_with_the_key_is_still_in_flight(http, client, fake_time):
    http.post(EXPENSES_URL, status=409, json=error_body(409, "Request in progress"))

    with pytest.raises(CodatIdempotencyInFlightError) as raised:
        _create(client)

    assert isinstance(raised.value, CodatNotReadyError)
    assert raised.value.transient
    assert raised.value.idempotency_key == KEY
    assert "still processing" in str(raised.value)
    assert len(http.calls) == 1


def test_a_422_names_the_idempotency_conflict(http, client, fake_time):
    http.post(EXPENSES_URL, status=422, json=error_body(422, "Key reused with another body"))

    with pytest.raises(CodatIdempotencyConflictError) as raised:
        _create(client)

    assert isinstance(raised.value, CodatUnprocessableError)
    assert "Idempotency conflict" in str(raised.value)
    assert KEY in str(raised.value)
    assert len(http.calls) == 1


def test_a_400_stays_a_validation_error_with_its_items_and_is_not_resent(http, client):
    http.post(
        EXPENSES_URL,
        status=400,
        json=error_body(
            400,
            "Transfer In/Out transaction type is no longer supported.",
            validation={"errors": [{"itemId": TRANSACTION_ID, "message": "bad type"}]},
        ),
    )

    with pytest.raises(CodatValidationError) as raised:
        _create(client)

    assert raised.value.validation_errors[0].item_id == TRANSACTION_ID
    assert raised.value.idempotency_key == KEY
    assert len(http.calls) == 1


def test_every_attempt_reports_its_key_to_the_exchange_log(http, client, exchanges):
    http.post(EXPENSES_URL, body=requests.ConnectionError("reset"))
    http.post(EXPENSES_URL, json={"syncId": SYNC_ID})

    _create(client)

    assert [(e.attempt, e.status, e.idempotency_key) for e in exchanges] == [
        (1, None, KEY),
        (2, 200, KEY),
    ]


@pytest.mark.parametrize("failure", [503, requests.ReadTimeout("r")])
def test_puts_carry_no_key_and_are_still_never_resent(http, client, exchanges, failure):
    url = company_url(f"/sync/expenses/transfer-transactions/{TRANSACTION_ID}")
    if isinstance(failure, int):
        http.put(url, status=failure, json=error_body(failure, "busy"))
    else:
        http.put(url, body=failure)

    with pytest.raises(CodatUnavailableError) as raised:
        client.create_or_update_transfer(
            COMPANY_ID,
            TRANSACTION_ID,
            TransferTransaction("2024-05-21T00:00:00+00:00", "a", Decimal("1"), "b", Decimal("1")),
        )

    assert not isinstance(raised.value, CodatIdempotentServerError)
    assert _keys_sent(http) == [None]
    assert exchanges[0].idempotency_key is None
