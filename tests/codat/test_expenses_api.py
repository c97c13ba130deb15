"""The v1 implementation of the push pipeline's `ExpensesApi` seam."""

from __future__ import annotations

from decimal import Decimal

import pytest

from codat import (
    CodatUnavailableError,
    ExpenseLine,
    ExpensesApi,
    ExpenseTransaction,
    Submission,
    V1ExpensesApi,
)
from tests.codat.conftest import COMPANY_ID, DATASET_ID, SYNC_ID, TRANSACTION_ID, company_url

DATASETS_URL = company_url("/sync/expenses/data/expense-transactions")
SYNCS_URL = company_url("/sync/expenses/syncs")


def _batch() -> list[ExpenseTransaction]:
    return [
        ExpenseTransaction(
            id=TRANSACTION_ID,
            type="Payment",
            issue_date="2024-05-21T00:00:00Z",
            currency="GBP",
            lines=(ExpenseLine(Decimal("10.00"), Decimal("2.00"), "42"),),
        )
    ]


def test_submit_creates_a_dataset_then_initiates_its_sync(http, client):
    http.post(DATASETS_URL, json={"datasetId": DATASET_ID})
    http.post(SYNCS_URL, status=202, json={"syncId": SYNC_ID})
    api: ExpensesApi = V1ExpensesApi(client)

    submission = api.submit(COMPANY_ID, _batch())

    assert submission == Submission(sync_id=SYNC_ID, dataset_ids=(DATASET_ID,))
    assert [call.request.url for call in http.calls] == [DATASETS_URL, SYNCS_URL]


def test_the_dataset_id_is_handed_over_before_the_sync_is_initiated(http, client):
    http.post(DATASETS_URL, json={"datasetId": DATASET_ID})
    http.post(SYNCS_URL, status=202, json={"syncId": SYNC_ID})
    seen: list[tuple[str, int]] = []

    V1ExpensesApi(client).submit(
        COMPANY_ID,
        _batch(),
        on_dataset_created=lambda dataset_id: seen.append((dataset_id, len(http.calls))),
    )

    assert seen == [(DATASET_ID, 1)]


def test_a_failed_initiate_leaves_the_recorded_dataset_to_resume(http, client):
    http.post(DATASETS_URL, json={"datasetId": DATASET_ID})
    http.post(SYNCS_URL, status=503, json={"statusCode": 503, "error": "maintenance"})
    http.post(SYNCS_URL, status=202, json={"syncId": SYNC_ID})
    recorded: list[str] = []
    api = V1ExpensesApi(client)

    with pytest.raises(CodatUnavailableError):
        api.submit(COMPANY_ID, _batch(), on_dataset_created=recorded.append)
    resumed = api.resume(COMPANY_ID, recorded)

    assert resumed == Submission(sync_id=SYNC_ID, dataset_ids=(DATASET_ID,))
    assert len([c for c in http.calls if c.request.url == DATASETS_URL]) == 1


def test_the_two_v1_steps_are_available_on_their_own(http, client):
    http.post(DATASETS_URL, json={"datasetId": DATASET_ID})
    http.post(SYNCS_URL, status=202, json={"syncId": SYNC_ID})
    api = V1ExpensesApi(client)

    dataset_id = api.create_dataset(COMPANY_ID, _batch())
    sync_id = api.initiate_sync(COMPANY_ID, [dataset_id])

    assert (dataset_id, sync_id) == (DATASET_ID, SYNC_ID)
