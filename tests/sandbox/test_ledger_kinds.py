"""What the accountant sees for the newer API's records: transfers with both amounts, bills with
their due date and employee, journals as debits and credits, and drafts; in the ledger JSON with
every field records always had, and on the ledger page."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.sandbox.conftest import Api, finish, link_company
from tests.sandbox.newer import expense, ledger, path, reimbursable, submit_and_finish, transfer

ALWAYS = {
    "transactionId",
    "recordType",
    "recordId",
    "type",
    "issueDate",
    "currency",
    "currencyRate",
    "bankAccount",
    "contact",
    "merchantName",
    "notes",
    "lines",
    "total",
    "baseAmount",
    "syncId",
    "attachments",
    "version",
    "writtenAt",
}


def _id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def qbo_books(api: Api, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A QuickBooks Online company with one record of each kind (adjustments enabled for it)."""
    monkeypatch.setattr("sandbox.platforms.ADJUSTMENT_PLATFORMS", frozenset({"qhyg"}))
    linked = link_company(api, "qhyg")
    submit_and_finish(api, linked, [expense(linked, _id())])
    moved = api.put(path(linked, f"transfer-transactions/{_id()}"), transfer(linked, amount=75))
    claimed = api.post(
        path(linked, "reimbursable-expense-transactions"), [reimbursable(linked, _id())]
    )
    journal = api.post(
        path(linked, "adjustment-transactions"),
        [
            {
                "id": _id(),
                "date": "2026-03-07",
                "currency": "USD",
                "reference": "Write-off",
                "lines": [
                    {"amount": 12.3, "accountRef": {"id": linked.account("Bank Fees")["id"]}},
                    {"amount": -12.3, "accountRef": {"id": linked.bank(credit=True)["id"]}},
                ],
            }
        ],
    )
    for response in (moved, claimed, journal):
        assert response.status_code == 200, response.content
    finish(api, linked, journal.json()["syncId"])
    return linked


def test_the_ledger_json_keeps_every_field_and_adds_the_new_kinds(api: Api, qbo_books: Any) -> None:
    records = {r["kind"]: r for r in ledger(api, qbo_books)}

    assert set(records) == {"expense", "transfer", "bill", "journal"}
    for record in records.values():
        assert set(record) >= ALWAYS
        assert record["api"] == "expenses"
    transfer_record = records["transfer"]["transfer"]
    assert (transfer_record["from"]["amount"], transfer_record["to"]["amount"]) == (
        "75.00",
        "75.00",
    )
    assert transfer_record["from"]["accountName"] == qbo_books.bank()["name"]
    assert records["bill"]["dueDate"] == "2026-03-31"
    assert records["bill"]["employee"]["name"]
    assert records["journal"]["reference"] == "Write-off"
    assert records["expense"]["transfer"] is None
    assert records["expense"]["employee"] is None


def test_the_ledger_page_shows_transfers_bills_and_journals(
    api: Api, client: Any, qbo_books: Any
) -> None:
    page = client.get(f"/codat-sandbox/ledger/{qbo_books.company_id}/").content.decode()

    assert "4 records written" in page
    assert f"Transfer from <strong>{qbo_books.bank()['name']}</strong>" in page
    assert "(USD 75.00)" in page
    assert "Bill to reimburse" in page
    assert "due <strong>2026-03-31</strong>" in page
    assert '<th scope="col" class="num">Debit</th>' in page
    assert ">12.30</td>" in page
    assert "written through the Expenses API" in page
    assert "{%" not in page
    assert "{{" not in page


def test_a_dynamics_draft_is_marked_on_the_page(api: Api, client: Any) -> None:
    linked = link_company(api, "trji")
    submit_and_finish(api, linked, [expense(linked, _id(), postAsDraft=True)])

    page = client.get(f"/codat-sandbox/ledger/{linked.company_id}/").content.decode()

    assert '<span class="badge">Draft</span>' in page
    assert ledger(api, linked)[0]["draft"] is True
