"""The v1 flow end to end through the test client, on every platform."""

from __future__ import annotations

import uuid

import pytest

from tests.sandbox.conftest import Api, finish, link_company, payment, push


@pytest.mark.parametrize("platform", ["gbol", "qhyg", "akxx", "trji"])
def test_a_valid_payment_is_completed_and_written_to_the_ledger(api: Api, platform: str) -> None:
    linked = link_company(api, platform)
    tx_id = str(uuid.uuid4())

    sync_id = push(api, linked, [payment(linked, tx_id)])
    status, txs = finish(api, linked, sync_id)

    assert status["syncStatusCode"] == 2000, (status, txs)
    assert status["syncStatus"] == "Complete"
    assert status["dataPushed"] is True
    assert [(t["transactionId"], t["status"]) for t in txs] == [(tx_id, "Completed")]
    ledger = api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()
    assert [(r["transactionId"], r["type"], r["syncId"], r["attachments"]) for r in ledger] == [
        (tx_id, "Payment", sync_id, 0)
    ]
    assert ledger[0]["currency"] == linked.info["baseCurrency"]
    assert ledger[0]["lines"][0]["accountName"] == "Travel - National"
