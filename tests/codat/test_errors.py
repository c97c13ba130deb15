"""Every failure reaches callers as a `CodatError` subclass carrying Codat's details."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codat import (
    NO_RETRY,
    CodatAuthError,
    CodatClient,
    CodatError,
    CodatGoneError,
    CodatNotFoundError,
    CodatNotReadyError,
    CodatPaymentRequiredError,
    CodatProtocolError,
    CodatRateLimitedError,
    CodatUnavailableError,
    CodatUnprocessableError,
    CodatValidationError,
    ExpenseLine,
    ExpenseTransaction,
    ValidationItem,
)
from codat.errors import error_from_response, parse_retry_after
from tests.codat.conftest import COMPANY_ID, company_url, error_body


@pytest.mark.parametrize(
    ("status", "error_class", "transient"),
    [
        (400, CodatValidationError, False),
        (401, CodatAuthError, False),
        (402, CodatPaymentRequiredError, False),
        (403, CodatAuthError, False),
        (404, CodatNotFoundError, False),
        (409, CodatNotReadyError, True),
        (410, CodatGoneError, False),
        (422, CodatUnprocessableError, False),
        (429, CodatRateLimitedError, True),
        (500, CodatUnavailableError, True),
        (502, CodatUnavailableError, True),
        (503, CodatUnavailableError, True),
        (504, CodatUnavailableError, True),
    ],
)
def test_each_error_status_maps_to_its_class_with_codats_fields(
    http, make_client, status, error_class, transient
):
    http.post(
        company_url("/sync/expenses/syncs"),
        status=status,
        json=error_body(status, "Something specific", service="ExpenseSyncApi"),
    )
    client = make_client(retry_policy=NO_RETRY)

    with pytest.raises(error_class) as raised:
        client.initiate_sync(COMPANY_ID, ["cd937d46-8e41-43a9-9477-a79158ffd98a"])

    error = raised.value
    assert isinstance(error, CodatError)
    assert error.status == status
    assert error.service == "ExpenseSyncApi"
    assert error.message == "Something specific"
    assert error.correlation_id == f"corr-{status}"
    assert error.can_be_retried == "Unknown"
    assert error.detailed_error_code == 0
    assert error.transient is transient
    assert error.method == "POST"
    assert error.path == f"/companies/{COMPANY_ID}/sync/expenses/syncs"


def test_validation_errors_and_warnings_are_carried_as_items(http, client):
    http.post(
        company_url("/sync/expenses/data/expense-transactions"),
        status=400,
        json={
            "statusCode": 400,
            "service": "ExpenseSyncApi",
            "error": "There are problems with the request, see the Validation property.",
            "validation": {
                "errors": [
                    {
                        "itemId": "Items[0].Lines[0].NetAmount",
                        "message": "The field NetAmount must be between 0 and 5000000.",
                        "validatorName": None,
                    }
                ],
                "warnings": [
                    {"itemId": "Items[0]", "message": "Odd", "validatorName": "X"},
                    "junk",
                ],
            },
            "canBeRetried": "No",
        },
    )
    with pytest.raises(CodatValidationError) as raised:
        client.create_expense_dataset(
            COMPANY_ID,
            [
                ExpenseTransaction(
                    id="a44135b0-6882-489a-83fe-a0c57a4afb19",
                    type="Payment",
                    issue_date="2024-01-01T00:00:00Z",
                    currency="GBP",
                    lines=(ExpenseLine(Decimal(1), Decimal(0), "42"),),
                )
            ],
        )

    assert raised.value.validation_errors == (
        ValidationItem(
            "Items[0].Lines[0].NetAmount",
            "The field NetAmount must be between 0 and 5000000.",
            None,
        ),
    )
    assert raised.value.validation_warnings == (ValidationItem("Items[0]", "Odd", "X"),)
    assert raised.value.can_be_retried == "No"


def test_409_before_the_first_refresh_is_not_ready(http, client):
    http.get(
        company_url("/data/accounts"),
        status=409,
        json={"statusCode": 409, "error": "The data set has not been requested."},
    )

    with pytest.raises(CodatNotReadyError, match="has not been requested"):
        client.list_accounts(COMPANY_ID)


def test_429_carries_the_retry_after_seconds(http, make_client):
    http.get(
        company_url(),
        status=429,
        headers={"Retry-After": "42"},
        json=error_body(429, "You have made too many requests"),
    )

    with pytest.raises(CodatRateLimitedError) as raised:
        make_client(retry_policy=NO_RETRY).get_company(COMPANY_ID)

    assert raised.value.retry_after == 42.0


@pytest.mark.parametrize(
    ("status", "body", "error_class", "expected"),
    [
        (
            503,
            b"<html><body>Service Unavailable</body></html>",
            CodatUnavailableError,
            "Codat is unavailable (HTTP 503)",
        ),
        (401, b"", CodatAuthError, "Codat did not accept the API key (HTTP 401)"),
        (
            404,
            b"Not Found",
            CodatNotFoundError,
            "Codat could not find the resource (HTTP 404): Not Found",
        ),
        (418, b"[1, 2]", CodatError, "Codat returned an error (HTTP 418): [1, 2]"),
    ],
)
def test_non_json_error_bodies_still_map_to_the_right_class(
    http, make_client, status, body, error_class, expected
):
    http.get(company_url(), status=status, body=body)

    with pytest.raises(error_class) as raised:
        make_client(retry_policy=NO_RETRY).get_company(COMPANY_ID)

    assert type(raised.value) is error_class
    assert raised.value.message == expected
    assert raised.value.status == status


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"name": "no id"}', b""])
def test_a_success_with_an_unreadable_body_is_a_protocol_error(http, client, body):
    http.get(company_url(), status=200, body=body)

    with pytest.raises(CodatProtocolError) as raised:
        client.get_company(COMPANY_ID)

    assert raised.value.status == 200


def test_initiate_sync_without_a_sync_id_is_a_protocol_error(http, client):
    http.post(company_url("/sync/expenses/syncs"), status=202, json={"accepted": True})

    with pytest.raises(CodatProtocolError, match="unexpected body"):
        client.initiate_sync(COMPANY_ID, ["cd937d46-8e41-43a9-9477-a79158ffd98a"])


@pytest.mark.parametrize(
    ("exception", "message"),
    [
        (requests.ConnectTimeout("connect"), "did not answer in time"),
        (requests.ReadTimeout("read"), "did not answer in time"),
        (requests.ConnectionError("refused"), "Could not connect"),
        (requests.exceptions.ChunkedEncodingError("broken"), "failed"),
    ],
)
def test_transport_failures_become_unavailable_errors(http, make_client, exception, message):
    http.post(company_url("/data/all"), body=exception)

    with pytest.raises(CodatUnavailableError, match=message) as raised:
        make_client().refresh_all_data(COMPANY_ID)

    assert raised.value.status is None
    assert isinstance(raised.value.__cause__ or raised.value.__context__, requests.RequestException)


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:01:30 GMT", now) == 90.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after(None) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
error_like = st.fixed_dictionaries(
    {},
    optional={
        "statusCode": json_values,
        "service": json_values,
        "error": json_values,
        "correlationId": json_values,
        "validation": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "errors": st.lists(json_values, max_size=3),
                "warnings": st.lists(json_values, max_size=3),
            },
        ),
        "canBeRetried": json_values,
        "detailedErrorCode": json_values,
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.integers(min_value=300, max_value=599),
    body=st.one_of(st.binary(max_size=200), error_like.map(lambda d: json.dumps(d).encode())),
    retry_after=st.one_of(st.none(), st.text(max_size=30)),
)
def test_any_error_answer_becomes_a_codat_error_and_nothing_else(status, body, retry_after):
    headers = {} if retry_after is None else {"Retry-After": retry_after}

    error = error_from_response(status, body, headers)

    assert isinstance(error, CodatError)
    assert error.status == status
    assert isinstance(error.message, str)
    assert error.message
    assert all(isinstance(item, ValidationItem) for item in error.validation_errors)
    str(error)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    body=st.one_of(
        json_values.map(lambda value: json.dumps(value).encode()), st.binary(max_size=80)
    )
)
def test_any_success_body_gives_a_typed_result_or_a_protocol_error(body):
    client = CodatClient("https://api.codat.io", "key", retry_policy=NO_RETRY)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(company_url(), body=body)
        mock.get(company_url("/sync/expenses/mappingOptions"), body=body)
        mock.get(company_url("/sync/expenses/syncs/list/status"), body=body)
        mock.get(company_url("/dataStatus"), body=body)
        mock.get(company_url("/data/accounts"), body=body)
        calls = [
            lambda: client.get_company(COMPANY_ID),
            lambda: client.get_mapping_options(COMPANY_ID),
            lambda: client.list_syncs(COMPANY_ID),
            lambda: client.get_data_status(COMPANY_ID),
            lambda: list(client.iter_accounts(COMPANY_ID)),
        ]
        for call in calls:
            with contextlib.suppress(CodatProtocolError):
                call()


def test_a_read_timeout_on_a_write_says_the_outcome_is_unknown(http, client):
    http.post(company_url("/sync/expenses/syncs"), body=requests.ReadTimeout("read"))

    with pytest.raises(CodatUnavailableError, match="outcome unknown"):
        client.initiate_sync(COMPANY_ID, ["cd937d46-8e41-43a9-9477-a79158ffd98a"])


def test_a_protocol_error_names_the_call_that_got_the_odd_answer(http, client):
    http.get(company_url("/sync/expenses/mappingOptions"), body=b"<html>")

    with pytest.raises(CodatProtocolError) as raised:
        client.get_mapping_options(COMPANY_ID)

    assert raised.value.method == "GET"
    assert raised.value.path == f"/companies/{COMPANY_ID}/sync/expenses/mappingOptions"
