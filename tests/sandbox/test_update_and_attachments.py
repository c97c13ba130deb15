"""Update (PUT) of a synced expense, and receipts uploaded to completed transactions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.sandbox.conftest import AUTH, BASE, Api, Linked, finish, link_company, payment, push


def _synced(api: Api, linked: Linked, **overrides: Any) -> tuple[str, str]:
    tx_id = str(uuid.uuid4())
    sync_id = push(api, linked, [payment(linked, tx_id, **overrides)])
    _status, txs = finish(api, linked, sync_id)
    assert txs[0]["status"] == "Completed", txs
    return sync_id, tx_id


def _update(api: Api, linked: Linked, tx_id: str, body: dict[str, Any]) -> Any:
    return api.put(
        f"/companies/{linked.company_id}/sync/expenses/expense-transactions/{tx_id}", body
    )


def test_a_xero_payment_is_updated_through_a_new_sync(api: Api) -> None:
    linked = link_company(api, "gbol")
    first_sync, tx_id = _synced(api, linked)
    line = payment(linked, tx_id)["lines"][0]
    line["netAmount"] = 120.0

    response = _update(
        api,
        linked,
        tx_id,
        {"type": "Payment", "issueDate": "2026-03-02", "lines": [line], "notes": "fixed"},
    )

    assert response.status_code == 202
    sync_id = response.json()["syncId"]
    assert sync_id != first_sync
    status, txs = finish(api, linked, sync_id)
    assert status["syncStatusCode"] == 2000
    assert [t["transactionId"] for t in txs] == [tx_id]
    ledger = api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()
    assert len(ledger) == 1
    assert (ledger[0]["version"], ledger[0]["total"], ledger[0]["notes"]) == (2, "120.00", "fixed")
    assert ledger[0]["syncId"] == sync_id


@pytest.mark.parametrize("platform", ["qhyg", "akxx", "trji"])
def test_updates_are_422_on_platforms_other_than_xero(api: Api, platform: str) -> None:
    linked = link_company(api, platform)
    _, tx_id = _synced(api, linked)

    response = _update(api, linked, tx_id, {"type": "Payment", "issueDate": "2026-03-02"})

    assert response.status_code == 422
    body = response.json()
    assert body["service"] == "ExpenseSyncApi"
    assert (
        body["error"]
        == "Expense transaction updates are not supported for platforms other than Xero."
    )


def test_xero_updates_only_payments(api: Api) -> None:
    linked = link_company(api, "gbol")
    _, refund_id = _synced(api, linked, type="Refund")
    _, payment_id = _synced(api, linked)

    as_refund = _update(api, linked, payment_id, {"type": "Refund", "issueDate": "2026-03-02"})
    of_refund = _update(api, linked, refund_id, {"type": "Payment", "issueDate": "2026-03-02"})

    assert as_refund.status_code == 422
    assert of_refund.status_code == 422
    assert "only Payments can be updated" in of_refund.json()["error"]


def test_updating_a_transaction_never_synced_is_404(api: Api) -> None:
    linked = link_company(api, "gbol")
    response = _update(
        api, linked, str(uuid.uuid4()), {"type": "Payment", "issueDate": "2026-03-02"}
    )
    assert response.status_code == 404


def test_an_update_needs_type_and_issue_date(api: Api) -> None:
    linked = link_company(api, "gbol")
    _, tx_id = _synced(api, linked)
    response = _update(api, linked, tx_id, {"notes": "x"})
    assert response.status_code == 400
    assert {e["itemId"] for e in response.json()["validation"]["errors"]} == {"Type", "IssueDate"}


def test_an_update_that_breaks_a_rule_leaves_the_ledger_as_it_was(api: Api) -> None:
    linked = link_company(api, "gbol")
    _, tx_id = _synced(api, linked)
    line = payment(linked, tx_id)["lines"][0]
    line["accountRef"] = {"id": "missing"}
    sync_id = _update(
        api, linked, tx_id, {"type": "Payment", "issueDate": "2026-03-02", "lines": [line]}
    ).json()["syncId"]
    status, _txs = finish(api, linked, sync_id)
    assert status["syncStatusCode"] == 5120
    assert api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()[0]["version"] == 1


# --- Attachments ------------------------------------------------------------------------------


def _upload(
    api: Api,
    linked: Linked,
    sync_id: str,
    tx_id: str,
    name: str,
    content: bytes,
    part: str = "file",
) -> Any:
    return api.client.post(
        f"{BASE}/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/transactions/{tx_id}/attachments",
        data={part: SimpleUploadedFile(name, content, content_type="application/octet-stream")},
        HTTP_AUTHORIZATION=AUTH,
    )


@pytest.mark.parametrize("part", ["file", "fileName", "requestBody", "yourFileData"])
def test_an_attachment_is_taken_from_any_file_part_and_counted(api: Api, part: str) -> None:
    linked = link_company(api, "gbol")
    sync_id, tx_id = _synced(api, linked)

    response = _upload(api, linked, sync_id, tx_id, "receipt.pdf", b"%PDF", part)

    assert response.status_code == 200
    body = response.json()
    assert body["companyId"] == linked.company_id
    assert body["transactionId"] == tx_id
    assert body["id"].isdigit()
    assert api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()[0]["attachments"] == 1


def test_several_attachments_per_transaction(api: Api) -> None:
    linked = link_company(api, "trji")
    sync_id, tx_id = _synced(api, linked)
    for name in ("a.pdf", "b.heic"):  # Dynamics sets no extension limit
        assert _upload(api, linked, sync_id, tx_id, name, b"x").status_code == 200
    assert api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()[0]["attachments"] == 2


def test_an_upload_without_a_file_is_400(api: Api) -> None:
    linked = link_company(api, "gbol")
    sync_id, tx_id = _synced(api, linked)
    response = api.client.post(
        f"{BASE}/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/transactions/{tx_id}/attachments",
        data={"note": "no file"},
        HTTP_AUTHORIZATION=AUTH,
    )
    assert response.status_code == 400
    assert response.json()["validation"]["errors"][0]["itemId"] == "File"


def test_attachments_only_for_completed_transactions_of_that_sync(api: Api) -> None:
    linked = link_company(api, "gbol")
    sync_id, tx_id = _synced(api, linked)
    bad = payment(linked, str(uuid.uuid4()))
    bad["lines"][0]["accountRef"] = {"id": "0"}
    failed_sync = push(api, linked, [bad])
    finish(api, linked, failed_sync)

    refused = _upload(api, linked, failed_sync, bad["id"], "r.pdf", b"x")
    other_sync = _upload(api, linked, failed_sync, tx_id, "r.pdf", b"x")

    assert refused.status_code == 400
    assert "is ValidationError" in refused.json()["error"]
    assert other_sync.status_code == 404
    assert _upload(api, linked, str(uuid.uuid4()), tx_id, "r.pdf", b"x").status_code == 404
    assert _upload(api, linked, sync_id, bad["id"], "r.pdf", b"x").status_code == 404


@pytest.mark.parametrize("tx_type", ["TransferIn", "AdjustmentOut"])
def test_transfers_and_adjustments_take_no_attachments(api: Api, tx_type: str) -> None:
    linked = link_company(api, "gbol")
    item = payment(linked, str(uuid.uuid4()), type=tx_type)
    account = linked.bank() if tx_type == "TransferIn" else linked.account("Bank Fees")
    item["lines"][0] = {
        "netAmount": 5,
        "taxAmount": 0,
        "accountRef": {"id": account["id"]},
        "taxRateRef": {"id": "NONE"},
    }
    sync_id = push(api, linked, [item])
    assert finish(api, linked, sync_id)[1][0]["status"] == "Completed"

    response = _upload(api, linked, sync_id, item["id"], "r.pdf", b"x")

    assert response.status_code == 400
    assert (
        response.json()["error"]
        == f"Attachments are not supported for {tx_type} transactions on any platform."
    )


def test_qbo_takes_attachments_only_on_payments_and_refunds(api: Api) -> None:
    linked = link_company(api, "qhyg")
    item = payment(linked, str(uuid.uuid4()), type="Reward")
    item["lines"][0]["accountRef"] = {"id": linked.account("Cashback and Rewards")["id"]}
    sync_id = push(api, linked, [item])
    finish(api, linked, sync_id)
    response = _upload(api, linked, sync_id, item["id"], "r.pdf", b"x")
    assert response.status_code == 400
    assert (
        response.json()["error"]
        == "QuickBooks Online does not support attachments on Reward transactions."
    )


@pytest.mark.parametrize(
    ("platform", "name", "accepted"),
    [
        ("gbol", "receipt.keynote", True),
        ("gbol", "receipt.exe", False),
        ("qhyg", "receipt.eps", True),
        ("qhyg", "receipt.zip", False),
        ("akxx", "receipt.svg", True),
        ("akxx", "receipt.gif", False),
        ("trji", "receipt.exe", True),
    ],
)
def test_each_platform_has_its_own_file_types(
    api: Api, platform: str, name: str, accepted: bool
) -> None:
    linked = link_company(api, platform)
    sync_id, tx_id = _synced(api, linked)
    response = _upload(api, linked, sync_id, tx_id, name, b"x")
    assert (response.status_code == 200) is accepted, response.content
    if not accepted:
        assert response.json()["validation"]["errors"][0]["validatorName"] == "FileExtension"


def test_xero_refuses_files_over_ten_megabytes(api: Api) -> None:
    linked = link_company(api, "gbol")
    sync_id, tx_id = _synced(api, linked)
    limit = 10 * 1024 * 1024

    too_big = _upload(api, linked, sync_id, tx_id, "scan.pdf", b"x" * (limit + 1))
    just_fits = _upload(api, linked, sync_id, tx_id, "scan.pdf", b"x" * limit)

    assert too_big.status_code == 400
    assert too_big.json()["validation"]["errors"][0]["message"] == (
        f"The file is {limit + 1} bytes; Xero accepts attachments of at most 10 MB."
    )
    assert just_fits.status_code == 200
