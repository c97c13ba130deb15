"""The v1 implementation of the push pipeline's `ExpensesApi` seam."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from codat import (
    CodatUnavailableError,
    ExpenseLine,
    ExpensesApi,
    ExpenseTransaction,
    ExpenseUpdate,
    PlannedBatch,
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


def _planned() -> PlannedBatch:
    return PlannedBatch(key="batch-1", items=tuple(_batch()))


def test_send_keeps_the_batch_as_a_dataset_and_starts_nothing(http, client):
    http.post(DATASETS_URL, json={"datasetId": DATASET_ID})
    api: ExpensesApi = V1ExpensesApi(client)

    sent = api.send(COMPANY_ID, _planned())

    assert sent == Submission(dataset_ids=(DATASET_ID,))
    assert not api.one_sync_per_batch
    assert [call.request.url for call in http.calls] == [DATASETS_URL]
    assert "Idempotency-Key" not in http.calls[0].request.headers


def test_start_initiates_one_sync_for_the_datasets_sent(http, client):
    http.post(SYNCS_URL, status=202, json={"syncId": SYNC_ID})

    assert V1ExpensesApi(client).start(COMPANY_ID, [DATASET_ID]) == SYNC_ID
    assert json.loads(http.calls[0].request.body) == {"datasetIds": [DATASET_ID]}


def test_a_failed_start_leaves_the_datasets_to_start_again(http, client):
    http.post(DATASETS_URL, json={"datasetId": DATASET_ID})
    http.post(SYNCS_URL, status=503, json={"statusCode": 503, "error": "maintenance"})
    http.post(SYNCS_URL, status=202, json={"syncId": SYNC_ID})
    api = V1ExpensesApi(client)

    sent = api.send(COMPANY_ID, _planned())
    with pytest.raises(CodatUnavailableError):
        api.start(COMPANY_ID, sent.dataset_ids)

    assert api.start(COMPANY_ID, sent.dataset_ids) == SYNC_ID
    assert len([c for c in http.calls if c.request.url == DATASETS_URL]) == 1


def test_v1_has_only_the_expense_transactions_endpoint(http, client):
    with pytest.raises(ValueError, match="no adjustment-transactions endpoint"):
        V1ExpensesApi(client).send(
            COMPANY_ID,
            PlannedBatch(key="k", items=tuple(_batch()), endpoint="adjustment-transactions"),
        )
    assert len(http.calls) == 0


def test_a_batch_holds_one_to_fifty_items():
    with pytest.raises(ValueError, match="1 to 50"):
        PlannedBatch(key="k", items=())
    with pytest.raises(ValueError, match="1 to 50"):
        PlannedBatch(key="k", items=tuple(_batch() * 51))


def test_update_corrects_a_synced_expense_and_answers_its_sync(http, client):
    url = company_url(f"/sync/expenses/expense-transactions/{TRANSACTION_ID}")
    http.put(url, status=202, json={"syncId": SYNC_ID})
    update = ExpenseUpdate(type="Payment", issue_date=date(2024, 5, 21), currency="GBP")

    assert V1ExpensesApi(client).update(COMPANY_ID, TRANSACTION_ID, update) == SYNC_ID
    assert len(http.calls) == 1
