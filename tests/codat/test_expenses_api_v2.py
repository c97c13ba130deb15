"""The newer "Expenses" implementation of the push pipeline's `ExpensesApi` seam, and finding a
submission whose answer was lost (shared by both generations)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests

from codat import (
    CodatIdempotentServerError,
    CodatUnavailableError,
    ExpenseLine,
    ExpenseLineV2,
    ExpensesApi,
    ExpensesApiV2,
    ExpenseTransaction,
    ExpenseTransactionV2,
    ExpenseUpdateV2,
    PlannedBatch,
    Submission,
    TransferTransaction,
    V1ExpensesApi,
)
from codat.expenses_api import find_syncs_completing, sent_under_key
from tests.codat.conftest import COMPANY_ID, SYNC_ID, TRANSACTION_ID, company_url, error_body

EXPENSES_URL = company_url("/sync/expenses/expense-transactions")
SYNCS_URL = company_url("/sync/expenses/syncs/list/status")
KEY = "0b8e5a4e-7c9f-4b8e-9a51-6f1f2b3c4d5e"
OTHER_ID = "4d7c6929-7770-412b-91bb-44d3bc71d111"
SENT_AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
EARLIER_SYNC = "11111111-1111-4111-8111-111111111111"
OTHER_BATCH_SYNC = "22222222-2222-4222-8222-222222222222"


@pytest.fixture
def codat_document() -> str:
    return "expenses"


def _batch() -> list[ExpenseTransactionV2]:
    return [
        ExpenseTransactionV2(
            id=transaction_id,
            type="Payment",
            issue_date="2024-05-21T00:00:00+00:00",
            currency="GBP",
            lines=(ExpenseLineV2(Decimal("10.00"), account_id="42"),),
        )
        for transaction_id in (TRANSACTION_ID, OTHER_ID)
    ]


def _sync(sync_id: str, at: str) -> dict[str, object]:
    return {"syncId": sync_id, "companyId": COMPANY_ID, "syncStatusCode": 1000, "syncUtc": at}


def _serve_transactions(http, sync_id: str, *ids: str) -> None:
    http.get(
        company_url(f"/sync/expenses/syncs/{sync_id}/transactions"),
        json={
            "results": [{"transactionId": i, "status": "Pending"} for i in ids],
            "pageNumber": 1,
            "pageSize": 5000,
            "totalResults": len(ids),
        },
    )


def test_submit_is_one_keyed_call_that_answers_the_sync(http, client):
    http.post(EXPENSES_URL, json={"syncId": SYNC_ID})
    api: ExpensesApi = ExpensesApiV2(client)

    submission = api.send(COMPANY_ID, PlannedBatch(key=KEY, items=tuple(_batch())))

    assert submission == Submission(sync_id=SYNC_ID)
    assert api.one_sync_per_batch
    assert len(http.calls) == 1
    assert http.calls[0].request.headers["Idempotency-Key"] == KEY
    assert [item["id"] for item in json.loads(http.calls[0].request.body)] == [
        TRANSACTION_ID,
        OTHER_ID,
    ]


def test_submit_after_a_lost_connection_resends_the_same_body_under_the_same_key(http, client):
    http.post(EXPENSES_URL, body=requests.ConnectionError("reset"))
    http.post(EXPENSES_URL, json={"syncId": SYNC_ID})
    planned = tuple(item.to_api() for item in _batch())

    submission = ExpensesApiV2(client).send(COMPANY_ID, PlannedBatch(key=KEY, items=planned))

    assert submission.sync_id == SYNC_ID
    assert {call.request.headers["Idempotency-Key"] for call in http.calls} == {KEY}
    assert http.calls[0].request.body == http.calls[1].request.body


def test_submit_without_a_key_is_refused_before_anything_is_sent(http, client):
    with pytest.raises(ValueError, match="idempotency key"):
        ExpensesApiV2(client).send(COMPANY_ID, PlannedBatch(key="", items=tuple(_batch())))

    assert len(http.calls) == 0


def test_each_generation_refuses_the_other_generations_items(http, client):
    v1_item = ExpenseTransaction(
        id=TRANSACTION_ID,
        type="Payment",
        issue_date="2024-05-21T00:00:00Z",
        currency="GBP",
        lines=(ExpenseLine(Decimal("10.00"), Decimal("2.00"), "42"),),
    )

    with pytest.raises(TypeError):
        ExpensesApiV2(client).send(COMPANY_ID, PlannedBatch(key=KEY, items=(v1_item,)))
    with pytest.raises(TypeError):
        V1ExpensesApi(client).send(COMPANY_ID, PlannedBatch(key=KEY, items=tuple(_batch())))
    assert len(http.calls) == 0


def test_a_5xx_reaches_the_caller_as_an_unknown_outcome_for_the_key(http, client):
    http.post(EXPENSES_URL, status=500, json=error_body(500, "There is a problem"))

    with pytest.raises(CodatIdempotentServerError):
        ExpensesApiV2(client).send(COMPANY_ID, PlannedBatch(key=KEY, items=tuple(_batch())))

    assert len(http.calls) == 1


def test_a_lost_submission_is_found_by_its_transaction_ids_not_by_time(http, client):
    http.get(
        SYNCS_URL,
        json=[
            _sync(EARLIER_SYNC, "2026-12-01T09:59:00Z"),  # before we sent: never considered
            _sync(OTHER_BATCH_SYNC, "2026-12-01T10:00:01Z"),  # another batch, sent at once
            _sync(SYNC_ID, "2026-12-01T10:00:02Z"),
        ],
    )
    _serve_transactions(http, OTHER_BATCH_SYNC, "aaaaaaaa-0000-4000-8000-000000000000")
    _serve_transactions(http, SYNC_ID, TRANSACTION_ID, OTHER_ID)

    found = ExpensesApiV2(client).find_lost_submission(
        COMPANY_ID, [TRANSACTION_ID, OTHER_ID], since=SENT_AT
    )

    assert found == Submission(sync_id=SYNC_ID)
    urls = [call.request.url for call in http.calls]
    assert not any(EARLIER_SYNC in url for url in urls)
    assert "pageSize=5000" in urls[1]


def test_a_sync_holding_only_some_of_the_batch_is_not_adopted(http, client):
    http.get(SYNCS_URL, json=[_sync(SYNC_ID, "2026-12-01T10:00:02Z")])
    _serve_transactions(http, SYNC_ID, TRANSACTION_ID)

    assert (
        ExpensesApiV2(client).find_lost_submission(
            COMPANY_ID, [TRANSACTION_ID, OTHER_ID], since=SENT_AT
        )
        is None
    )


def test_syncs_the_caller_already_recorded_are_skipped(http, client):
    http.get(SYNCS_URL, json=[_sync(SYNC_ID, "2026-12-01T10:00:02Z")])

    found = V1ExpensesApi(client).find_lost_submission(
        COMPANY_ID, [TRANSACTION_ID], since=SENT_AT, known_sync_ids={SYNC_ID}
    )

    assert found is None
    assert len(http.calls) == 1


def test_v1_finds_a_lost_start_as_the_earliest_unknown_sync_since_the_request(http, client):
    http.get(
        SYNCS_URL,
        json=[
            _sync(EARLIER_SYNC, "2026-12-01T09:59:00Z"),  # before the request: not ours
            _sync(OTHER_BATCH_SYNC, "2026-12-01T10:00:05Z"),
            _sync(SYNC_ID, "2026-12-01T10:00:02Z"),
        ],
    )

    found = V1ExpensesApi(client).find_lost_submission(COMPANY_ID, [TRANSACTION_ID], since=SENT_AT)

    assert found == Submission(sync_id=SYNC_ID)
    assert len(http.calls) == 1  # v1 may list a sync's transactions only once it runs


def test_update_corrects_a_synced_expense_in_the_generation_s_own_shape(http, client):
    http.put(f"{EXPENSES_URL}/{TRANSACTION_ID}", status=202, json={"syncId": SYNC_ID})
    update = ExpenseUpdateV2(
        type="Payment",
        issue_date="2024-05-21T00:00:00+00:00",
        currency="GBP",
        lines=(ExpenseLineV2(net_amount=Decimal("10.00")),),
    )

    assert ExpensesApiV2(client).update(COMPANY_ID, TRANSACTION_ID, update) == SYNC_ID
    with pytest.raises(TypeError):
        V1ExpensesApi(client).update(COMPANY_ID, TRANSACTION_ID, update)
    assert len(http.calls) == 1


# --- Transfers: one PUT by transaction id -------------------------------------------------------

TRANSFER_URL = company_url(f"/sync/expenses/transfer-transactions/{TRANSACTION_ID}")


def _transfer() -> TransferTransaction:
    return TransferTransaction(
        id=TRANSACTION_ID,
        date="2024-05-21T00:00:00+00:00",
        from_account_id="current",
        from_amount=Decimal("250.00"),
        to_account_id="card",
        to_amount=Decimal("250.00"),
        description="Card top-up",
    )


def test_only_the_posts_are_sent_under_a_key_codat_answers():
    assert sent_under_key("expense-transactions")
    assert sent_under_key("adjustment-transactions")
    assert sent_under_key("reimbursable-expense-transactions")
    assert not sent_under_key("transfer-transactions")


@pytest.mark.parametrize("planned", ["dataclass", "json"])
def test_a_transfer_batch_is_one_put_by_its_transaction_id_with_no_key(http, client, planned):
    http.put(TRANSFER_URL, json={"syncId": SYNC_ID})
    transfer = _transfer()
    item = transfer if planned == "dataclass" else {"id": transfer.id, **transfer.to_api()}

    submission = ExpensesApiV2(client).send(
        COMPANY_ID, PlannedBatch(key=KEY, items=(item,), endpoint="transfer-transactions")
    )

    assert submission == Submission(sync_id=SYNC_ID)
    [call] = http.calls
    assert call.request.method == "PUT"
    assert "Idempotency-Key" not in call.request.headers
    # The id goes in the path only.
    assert json.loads(call.request.body) == {
        "date": "2024-05-21T00:00:00+00:00",
        "from": {"accountRef": {"id": "current"}, "amount": 250.0},
        "to": {"accountRef": {"id": "card"}, "amount": 250.0},
        "description": "Card top-up",
    }


def test_a_transfer_batch_holds_one_transfer_with_its_id(http, client):
    transfer = _transfer()
    without_id = transfer.to_api()

    with pytest.raises(ValueError, match="alone"):
        ExpensesApiV2(client).send(
            COMPANY_ID,
            PlannedBatch(key=KEY, items=(transfer, transfer), endpoint="transfer-transactions"),
        )
    with pytest.raises(ValueError, match="transaction id"):
        ExpensesApiV2(client).send(
            COMPANY_ID,
            PlannedBatch(key=KEY, items=(without_id,), endpoint="transfer-transactions"),
        )
    with pytest.raises(TypeError):
        ExpensesApiV2(client).send(
            COMPANY_ID,
            PlannedBatch(key=KEY, items=(_batch()[0],), endpoint="transfer-transactions"),
        )
    with pytest.raises(ValueError, match="no transfer-transactions"):
        V1ExpensesApi(client).send(
            COMPANY_ID, PlannedBatch(key=KEY, items=(transfer,), endpoint="transfer-transactions")
        )
    assert len(http.calls) == 0


def test_a_transfer_put_whose_answer_is_lost_is_not_sent_again_by_the_client(http, client):
    http.put(TRANSFER_URL, body=requests.ConnectionError("reset"))
    http.put(TRANSFER_URL, json={"syncId": SYNC_ID})

    with pytest.raises(CodatUnavailableError):
        ExpensesApiV2(client).send(
            COMPANY_ID,
            PlannedBatch(key=KEY, items=(_transfer(),), endpoint="transfer-transactions"),
        )

    assert len(http.calls) == 1


def test_a_transfer_is_corrected_by_the_same_put(http, client):
    http.put(TRANSFER_URL, json={"syncId": SYNC_ID})

    assert ExpensesApiV2(client).update(COMPANY_ID, TRANSACTION_ID, _transfer()) == SYNC_ID
    with pytest.raises(TypeError):
        V1ExpensesApi(client).update(COMPANY_ID, TRANSACTION_ID, _transfer())
    assert [call.request.method for call in http.calls] == ["PUT"]


# --- The syncs that completed a transaction (duplicate protection) ------------------------------


def _serve_results(http, sync_id: str, **statuses: str) -> None:
    http.get(
        company_url(f"/sync/expenses/syncs/{sync_id}/transactions"),
        json={
            "results": [{"transactionId": i, "status": status} for i, status in statuses.items()],
            "pageNumber": 1,
            "pageSize": 5000,
            "totalResults": len(statuses),
        },
    )


def test_the_sync_that_completed_a_transaction_is_found_newest_first(http, client):
    newest = "33333333-3333-4333-8333-333333333333"
    http.get(
        SYNCS_URL,
        json=[
            _sync(EARLIER_SYNC, "2026-12-01T09:00:00Z"),
            _sync(OTHER_BATCH_SYNC, "2026-12-01T10:00:00Z"),
            _sync(newest, "2026-12-01T11:00:00Z"),
            _sync(SYNC_ID, "2026-12-01T12:00:00Z"),  # the caller's own: skipped
        ],
    )
    # The newest holds it but did not complete it (the 5080 of a resend, say).
    _serve_results(http, newest, **{TRANSACTION_ID: "ValidationError"})
    _serve_results(http, OTHER_BATCH_SYNC, **{TRANSACTION_ID: "Completed", OTHER_ID: "Completed"})

    found = find_syncs_completing(
        client, COMPANY_ID, [TRANSACTION_ID], skip_sync_ids={SYNC_ID}, limit=10
    )

    assert list(found) == [TRANSACTION_ID]
    completed = found[TRANSACTION_ID]
    assert completed.status.sync_id == OTHER_BATCH_SYNC
    assert {t.transaction_id for t in completed.transactions} == {TRANSACTION_ID, OTHER_ID}
    urls = [call.request.url for call in http.calls]
    # Found: the older sync is never read.
    assert not any(EARLIER_SYNC in url or f"{SYNC_ID}/transactions" in url for url in urls)


def test_the_search_for_a_completing_sync_reads_at_most_its_limit(http, client):
    http.get(
        SYNCS_URL,
        json=[
            _sync(EARLIER_SYNC, "2026-12-01T09:00:00Z"),
            _sync(OTHER_BATCH_SYNC, "2026-12-01T10:00:00Z"),
        ],
    )
    _serve_results(http, OTHER_BATCH_SYNC, **{OTHER_ID: "Completed"})

    found = find_syncs_completing(client, COMPANY_ID, [TRANSACTION_ID], limit=1)

    assert found == {}
    assert len(http.calls) == 2  # the list and the newest sync
