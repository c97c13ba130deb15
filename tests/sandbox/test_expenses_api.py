"""The newer Expenses API's writes on the sandbox, beside v1: one call per batch that starts its
own sync, the four expense types, per-transaction bank accounts and suppliers, and the rules
per platform (updates, transfers, reimbursables, adjustments)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sandbox.models import SandboxSync
from tests.sandbox.conftest import AUTH, BASE, Api, finish, link_company
from tests.sandbox.newer import (
    expense,
    ledger,
    path,
    reimbursable,
    submit,
    submit_and_finish,
    transfer,
)

TRANSFER_400 = (
    "Transfer In/Out transaction type is no longer supported. Please use the 'Create transfer "
    "transactions' endpoint."
)
ADJUSTMENT_400 = (
    "Adjustment In/Out transaction type is no longer supported. Please use the 'Create "
    "adjustment transactions' endpoint."
)


def _new_id() -> str:
    return str(uuid.uuid4())


@pytest.mark.parametrize("platform", ["gbol", "qhyg", "akxx", "trji"])
def test_a_bare_array_starts_its_own_sync_and_is_written(api: Api, platform: str) -> None:
    linked = link_company(api, platform)
    tx_ids = [_new_id(), _new_id()]

    response = api.post(path(linked, "expense-transactions"), [expense(linked, i) for i in tx_ids])

    assert response.status_code == 200
    sync_id = response.json()["syncId"]
    assert SandboxSync.objects.get(pk=sync_id).kind == "expenses"
    status, txs = finish(api, linked, sync_id)
    assert (status["syncStatusCode"], status["dataPushed"]) == (2000, True)
    assert [(t["transactionId"], t["status"]) for t in txs] == [(i, "Completed") for i in tx_ids]
    records = ledger(api, linked)
    assert [(r["transactionId"], r["kind"], r["api"], r["type"]) for r in records] == [
        (i, "expense", "expenses", "Payment") for i in tx_ids
    ]
    assert records[0]["lines"][0]["taxAmount"] == "0"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"items": []}, "{items} is the v1 dataset shape"),
        ([], "at least one item"),
        ("not a list", "JSON array"),
    ],
)
def test_anything_but_an_array_of_1_to_50_is_a_400(api: Api, body: Any, expected: str) -> None:
    linked = link_company(api, "gbol")

    response = api.post(path(linked, "expense-transactions"), body)

    assert response.status_code == 400
    assert expected in str(response.json()["validation"]["errors"])


def test_fifty_one_transactions_are_refused(api: Api) -> None:
    linked = link_company(api, "gbol")
    items = [expense(linked, _new_id()) for _ in range(51)]

    response = api.post(path(linked, "expense-transactions"), items)

    assert response.status_code == 400
    assert response.json()["validation"]["errors"][0]["validatorName"] == "MaxLength"
    assert not SandboxSync.objects.exists()


@pytest.mark.parametrize(
    ("tx_type", "text"),
    [
        ("TransferIn", TRANSFER_400),
        ("TransferOut", TRANSFER_400),
        ("AdjustmentIn", ADJUSTMENT_400),
        ("adjustmentOut", ADJUSTMENT_400),
    ],
)
def test_the_four_retired_types_get_codats_400(api: Api, tx_type: str, text: str) -> None:
    linked = link_company(api, "qhyg")
    items = [expense(linked, _new_id()), expense(linked, _new_id(), type=tx_type)]

    response = api.post(path(linked, "expense-transactions"), items)

    assert response.status_code == 400
    body = response.json()
    assert (body["statusCode"], body["error"], body["service"]) == (400, text, "ExpenseSyncApi")
    assert set(body) >= {"correlationId", "canBeRetried", "validation", "detailedErrorCode"}
    assert not SandboxSync.objects.exists()


def test_the_retired_types_are_refused_on_an_update_too(api: Api) -> None:
    linked = link_company(api, "gbol")
    tx_id = _new_id()
    submit_and_finish(api, linked, [expense(linked, tx_id)])

    response = api.put(
        path(linked, f"expense-transactions/{tx_id}"),
        {"type": "TransferOut", "issueDate": "2026-03-02", "currency": "GBP"},
    )

    assert (response.status_code, response.json()["error"]) == (400, TRANSFER_400)


def test_bank_account_ref_takes_precedence_over_the_configuration(api: Api) -> None:
    linked = link_company(api, "gbol")  # configured with the corporate card
    current = linked.bank()
    overridden, default = _new_id(), _new_id()

    submit_and_finish(
        api,
        linked,
        [
            expense(linked, overridden, bankAccountRef={"id": current["id"]}),
            expense(linked, default),
        ],
    )

    banks = {r["transactionId"]: r["bankAccount"]["id"] for r in ledger(api, linked)}
    assert banks == {overridden: current["id"], default: linked.bank(credit=True)["id"]}


def test_a_missing_default_only_fails_transactions_without_an_override(api: Api) -> None:
    linked = link_company(api, "qhyg", configure=False)
    supplier = next(s for s in linked.suppliers if s["status"] == "Active")
    covered, uncovered = _new_id(), _new_id()

    status, txs = submit_and_finish(
        api,
        linked,
        [
            expense(
                linked,
                covered,
                bankAccountRef={"id": linked.bank(credit=True)["id"]},
                contactRef={"id": supplier["id"], "type": "Supplier"},
            ),
            expense(linked, uncovered),
        ],
    )

    assert status["syncStatusCode"] == 5120
    by_id = {t["transactionId"]: t for t in txs}
    assert by_id[covered]["status"] == "Completed"
    assert by_id[uncovered]["status"] == "ValidationError"
    assert "set bankAccountRef on the transaction" in by_id[uncovered]["message"]


def test_an_override_that_is_not_a_bank_account_fails_that_transaction(api: Api) -> None:
    linked = link_company(api, "gbol")
    tx_id = _new_id()

    _, txs = submit_and_finish(
        api,
        linked,
        [expense(linked, tx_id, bankAccountRef={"id": linked.account("Bank Fees")["id"]})],
    )

    assert txs[0]["status"] == "ValidationError"
    assert "is not an active bank or credit-card account" in txs[0]["message"]


def test_contact_ref_names_the_supplier_and_only_supplier_is_a_valid_type(api: Api) -> None:
    linked = link_company(api, "akxx")
    supplier = next(
        s for s in linked.suppliers if s["status"] == "Active" and s["defaultCurrency"] is None
    )
    tx_id = _new_id()

    submit_and_finish(
        api, linked, [expense(linked, tx_id, contactRef={"id": supplier["id"], "type": "supplier"})]
    )
    refused = api.post(
        path(linked, "expense-transactions"),
        [expense(linked, _new_id(), contactRef={"id": supplier["id"], "type": "Customer"})],
    )

    assert ledger(api, linked)[0]["contact"]["id"] == supplier["id"]
    assert refused.status_code == 400
    assert refused.json()["validation"]["errors"][0]["itemId"] == "[0].ContactRef.Type"


def test_only_net_amount_is_required_on_a_line_and_the_platform_decides_the_rest(
    api: Api,
) -> None:
    linked = link_company(api, "gbol")
    tx_id = _new_id()
    item = expense(linked, tx_id)
    item["lines"] = [{"netAmount": 12.5}]

    accepted = api.post(path(linked, "expense-transactions"), [item])
    status, txs = finish(api, linked, accepted.json()["syncId"])
    missing = api.post(path(linked, "expense-transactions"), [{**item, "lines": [{}]}])

    assert accepted.status_code == 200
    assert status["syncStatusCode"] == 5120
    assert "Line 1 has no accountRef" in txs[0]["message"]
    assert "A tax rate is required on line 1" in txs[0]["message"]
    assert missing.status_code == 400
    assert missing.json()["validation"]["errors"][0]["itemId"] == "[0].Lines[0].NetAmount"


def test_keys_and_enums_are_read_whatever_their_case(api: Api) -> None:
    linked = link_company(api, "gbol")
    tx_id = _new_id()
    item = expense(linked, tx_id, type="payment")
    shouted = {key[0].upper() + key[1:]: value for key, value in item.items()}

    status, _ = submit_and_finish(api, linked, [shouted])

    assert status["syncStatusCode"] == 2000


def test_post_as_draft_is_a_dynamics_draft_and_refused_elsewhere(api: Api) -> None:
    dynamics = link_company(api, "trji")
    xero = link_company(api, "gbol")
    draft, refused = _new_id(), _new_id()

    submit_and_finish(api, dynamics, [expense(dynamics, draft, postAsDraft=True)])
    _, txs = submit_and_finish(api, xero, [expense(xero, refused, postAsDraft=True)])

    record = ledger(api, dynamics)[0]
    assert (record["draft"], record["recordType"]) == (True, "Purchase invoice")
    assert "cannot post drafts" in txs[0]["message"]


def test_invoice_to_makes_a_qbo_line_billable_and_is_refused_elsewhere(api: Api) -> None:
    qbo = link_company(api, "qhyg")
    xero = link_company(api, "gbol")
    customer = next(c for c in qbo.customers if c["status"] == "Active")
    billable = expense(qbo, _new_id())
    billable["lines"][0]["invoiceTo"] = {"id": customer["id"], "type": "customer"}
    elsewhere = expense(xero, _new_id())
    elsewhere["lines"][0]["invoiceTo"] = {"id": "1", "type": "customer"}

    submit_and_finish(api, qbo, [billable])
    _, txs = submit_and_finish(api, xero, [elsewhere])

    assert ledger(api, qbo)[0]["lines"][0]["billableTo"]["id"] == customer["id"]
    assert "does not take invoiceTo" in txs[0]["message"]


@pytest.mark.parametrize("platform", ["gbol", "qhyg", "akxx"])
def test_a_payment_is_updated_on_xero_qbo_and_netsuite(api: Api, platform: str) -> None:
    linked = link_company(api, platform)
    tx_id = _new_id()
    submit_and_finish(api, linked, [expense(linked, tx_id)])

    response = api.put(
        path(linked, f"expense-transactions/{tx_id}"),
        {
            "type": "Payment",
            "issueDate": "2026-03-04",
            "currency": linked.info["baseCurrency"],
            "notes": "Corrected",
            "bankAccountRef": {"id": linked.bank()["id"]},
        },
    )

    assert response.status_code == 202
    status, txs = finish(api, linked, response.json()["syncId"])
    assert status["syncStatusCode"] == 2000
    assert "updated in" in txs[0]["message"]
    record = ledger(api, linked)[0]
    assert (record["version"], record["notes"], record["issueDate"]) == (
        2,
        "Corrected",
        "2026-03-04",
    )
    assert record["bankAccount"]["id"] == linked.bank()["id"]


def test_updates_are_refused_on_dynamics_and_for_other_types_and_need_currency(
    api: Api,
) -> None:
    dynamics = link_company(api, "trji")
    xero = link_company(api, "gbol")
    dyn_id, refund_id = _new_id(), _new_id()
    submit_and_finish(api, dynamics, [expense(dynamics, dyn_id)])
    refund = expense(xero, refund_id, type="Refund")
    refund["lines"][0]["accountRef"] = {"id": xero.account("Travel - National")["id"]}
    submit_and_finish(api, xero, [refund])
    body = {"type": "Payment", "issueDate": "2026-03-04", "currency": "EUR"}

    on_dynamics = api.put(path(dynamics, f"expense-transactions/{dyn_id}"), body)
    a_refund = api.put(path(xero, f"expense-transactions/{refund_id}"), {**body, "currency": "GBP"})
    no_currency = api.put(
        path(xero, f"expense-transactions/{refund_id}"),
        {"type": "Payment", "issueDate": "2026-03-04"},
    )
    unknown = api.put(path(xero, f"expense-transactions/{_new_id()}"), {**body, "currency": "GBP"})

    assert on_dynamics.status_code == 422
    assert on_dynamics.json()["error"] == (
        "Expense transaction updates are not supported for Dynamics 365 Business Central."
    )
    assert (a_refund.status_code, no_currency.status_code, unknown.status_code) == (422, 400, 404)


@pytest.mark.parametrize("platform", ["gbol", "qhyg"])
def test_a_transfer_is_written_with_its_two_amounts(api: Api, platform: str) -> None:
    linked = link_company(api, platform)
    tx_id = _new_id()

    response = api.put(path(linked, f"transfer-transactions/{tx_id}"), transfer(linked))

    assert response.status_code == 200
    status, txs = finish(api, linked, response.json()["syncId"])
    assert status["syncStatusCode"] == 2000, txs
    record = ledger(api, linked)[0]
    assert (record["kind"], record["type"], record["lines"]) == ("transfer", "Transfer", [])
    assert record["transfer"]["from"]["accountId"] == linked.bank()["id"]
    assert record["transfer"]["to"]["accountId"] == linked.bank(credit=True)["id"]
    assert (record["transfer"]["from"]["amount"], record["transfer"]["to"]["amount"]) == (
        "250.00",
        "250.00",
    )


def test_a_foreign_currency_transfer_keeps_each_amount_in_its_account_currency(
    api: Api,
) -> None:
    linked = link_company(api, "qhyg")  # USD base, CAD accounts
    body = transfer(linked, amount=100, to_amount=136.5)
    body["to"]["accountRef"]["id"] = linked.bank(currency="CAD")["id"]

    response = api.put(path(linked, f"transfer-transactions/{_new_id()}"), body)
    status, _ = finish(api, linked, response.json()["syncId"])

    record = ledger(api, linked)[0]
    assert status["syncStatusCode"] == 2000
    assert (record["transfer"]["to"]["currency"], record["transfer"]["to"]["amount"]) == (
        "CAD",
        "136.50",
    )
    assert (record["currencyRate"], record["baseAmount"]) == ("1.365000000", "100.00")


def test_transfer_amounts_must_agree_within_one_currency(api: Api) -> None:
    linked = link_company(api, "gbol")

    response = api.put(
        path(linked, f"transfer-transactions/{_new_id()}"), transfer(linked, to_amount=249)
    )
    status, txs = finish(api, linked, response.json()["syncId"])

    assert status["syncStatusCode"] == 5120
    assert "must be equal" in txs[0]["message"]


def test_the_same_put_updates_a_transfer_on_qbo_and_is_refused_on_xero(api: Api) -> None:
    qbo = link_company(api, "qhyg")
    xero = link_company(api, "gbol")
    qbo_id, xero_id = _new_id(), _new_id()
    for linked, tx_id in ((qbo, qbo_id), (xero, xero_id)):
        first = api.put(path(linked, f"transfer-transactions/{tx_id}"), transfer(linked))
        finish(api, linked, first.json()["syncId"])

    again = api.put(path(qbo, f"transfer-transactions/{qbo_id}"), transfer(qbo, amount=300))
    status, txs = finish(api, qbo, again.json()["syncId"])
    on_xero = api.put(path(xero, f"transfer-transactions/{xero_id}"), transfer(xero, amount=300))

    record = ledger(api, qbo)[0]
    assert status["syncStatusCode"] == 2000
    assert "updated in QuickBooks Online" in txs[0]["message"]
    assert (record["version"], record["transfer"]["to"]["amount"]) == (2, "300.00")
    assert on_xero.status_code == 400
    assert on_xero.json()["error"] == "Updating a transfer transaction is not supported for Xero."


@pytest.mark.parametrize("platform", ["akxx", "trji"])
def test_netsuite_and_dynamics_refuse_transfers(api: Api, platform: str) -> None:
    linked = link_company(api, platform)

    response = api.put(path(linked, f"transfer-transactions/{_new_id()}"), transfer(linked))

    assert response.status_code == 400
    assert "Create transfer transaction is not supported for" in response.json()["error"]


@pytest.mark.parametrize("platform", ["qhyg", "akxx"])
def test_a_reimbursable_expense_is_a_bill_against_the_employee(api: Api, platform: str) -> None:
    linked = link_company(api, platform)
    tx_id = _new_id()

    response = api.post(
        path(linked, "reimbursable-expense-transactions"), [reimbursable(linked, tx_id)]
    )
    status, txs = finish(api, linked, response.json()["syncId"])

    assert status["syncStatusCode"] == 2000, txs
    record = ledger(api, linked)[0]
    assert (record["kind"], record["type"], record["dueDate"]) == (
        "bill",
        "Reimbursable",
        "2026-03-31",
    )
    assert record["recordType"] == {"qhyg": "Bill", "akxx": "Vendor bill"}[platform]
    assert record["employee"]["kind"] == "Employee"
    assert record["reference"] == "Claims w/c 2026-03-02"
    assert record["bankAccount"] == {}


def test_a_reimbursable_is_updated_with_200_and_a_new_version(api: Api) -> None:
    linked = link_company(api, "qhyg")
    tx_id = _new_id()
    created = api.post(
        path(linked, "reimbursable-expense-transactions"), [reimbursable(linked, tx_id)]
    )
    finish(api, linked, created.json()["syncId"])
    changes = reimbursable(linked, tx_id, dueDate="2026-04-15")
    del changes["id"]

    response = api.put(path(linked, f"reimbursable-expense-transactions/{tx_id}"), changes)
    status, _ = finish(api, linked, response.json()["syncId"])

    assert response.status_code == 200
    assert status["syncStatusCode"] == 2000
    record = ledger(api, linked)[0]
    assert (record["version"], record["dueDate"]) == (2, "2026-04-15")


def test_bills_follow_the_employee_suppliers_currency(api: Api) -> None:
    linked = link_company(api, "qhyg")
    single = next(
        s for s in linked.suppliers if s["status"] == "Active" and s["defaultCurrency"] == "USD"
    )
    item = reimbursable(linked, _new_id(), currency="CAD", currencyRate=0.73)
    item["contactRef"] = {"id": single["id"]}

    response = api.post(path(linked, "reimbursable-expense-transactions"), [item])
    _, txs = finish(api, linked, response.json()["syncId"])

    assert "trades in USD only; the transaction is in CAD" in txs[0]["message"]


@pytest.mark.parametrize("platform", ["gbol", "trji"])
def test_xero_and_dynamics_refuse_reimbursables(api: Api, platform: str) -> None:
    linked = link_company(api, platform)

    created = api.post(
        path(linked, "reimbursable-expense-transactions"), [reimbursable(linked, _new_id())]
    )
    updated = api.put(
        path(linked, f"reimbursable-expense-transactions/{_new_id()}"),
        {k: v for k, v in reimbursable(linked, "x").items() if k != "id"},
    )

    assert (created.status_code, updated.status_code) == (400, 400)


def _journal(linked: Any, tx_id: str, credit: float = -50) -> dict[str, Any]:
    return {
        "id": tx_id,
        "date": "2026-03-05",
        "currency": linked.info["baseCurrency"],
        "reference": "FX revaluation",
        "lines": [
            {
                "amount": 50,
                "accountRef": {"id": linked.account("Foreign Exchange Gains and Losses")["id"]},
                "description": "debit",
            },
            {
                "amount": credit,
                "accountRef": {"id": linked.bank(credit=True)["id"]},
                "description": "credit",
            },
        ],
    }


@pytest.mark.parametrize("platform", ["gbol", "qhyg", "akxx", "trji"])
def test_adjustments_are_refused_on_every_platform_of_the_sandbox(api: Api, platform: str) -> None:
    linked = link_company(api, platform)

    response = api.post(path(linked, "adjustment-transactions"), [_journal(linked, _new_id())])

    assert response.status_code == 400
    assert "Create adjustment transaction is not supported for" in response.json()["error"]


def test_where_adjustments_are_enabled_they_are_balanced_journals(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sandbox.platforms.ADJUSTMENT_PLATFORMS", frozenset({"qhyg"}))
    linked = link_company(api, "qhyg")
    balanced, unbalanced = _new_id(), _new_id()

    response = api.post(
        path(linked, "adjustment-transactions"),
        [_journal(linked, balanced), _journal(linked, unbalanced, credit=-40)],
    )
    status, txs = finish(api, linked, response.json()["syncId"])

    assert status["syncStatusCode"] == 5120
    assert [t["status"] for t in txs] == ["Completed", "ValidationError"]
    assert "does not balance: debits 50.00 and credits 40.00" in txs[1]["message"]
    record = ledger(api, linked)[0]
    assert (record["kind"], record["type"], record["total"]) == ("journal", "Adjustment", "50.00")
    assert [line["amount"] for line in record["lines"]] == ["50", "-50"]


def test_attachments_go_on_the_existing_route_for_expenses_and_qbo_bills_only(
    api: Api,
) -> None:
    linked = link_company(api, "qhyg")
    expense_id, bill_id, transfer_id = _new_id(), _new_id(), _new_id()
    expense_sync = submit(api, linked, [expense(linked, expense_id)])
    bill_sync = api.post(
        path(linked, "reimbursable-expense-transactions"), [reimbursable(linked, bill_id)]
    ).json()["syncId"]
    transfer_sync = api.put(
        path(linked, f"transfer-transactions/{transfer_id}"), transfer(linked)
    ).json()["syncId"]
    finish(api, linked, transfer_sync)

    def upload(sync_id: str, tx_id: str) -> Any:
        return api.client.post(
            BASE + path(linked, f"syncs/{sync_id}/transactions/{tx_id}/attachments"),
            {"file": SimpleUploadedFile("receipt.pdf", b"%PDF-1.4", "application/pdf")},
            HTTP_AUTHORIZATION=AUTH,
        )

    results = [
        upload(expense_sync, expense_id).status_code,
        upload(bill_sync, bill_id).status_code,
        upload(transfer_sync, transfer_id).status_code,
    ]

    assert results == [200, 200, 400]
    counts = {r["transactionId"]: r["attachments"] for r in ledger(api, linked)}
    assert counts == {expense_id: 1, bill_id: 1, transfer_id: 0}


def test_a_company_without_its_connections_gets_a_400(api: Api) -> None:
    company_id = api.post("/companies", {"name": "Unlinked"}).json()["id"]

    response = api.post(
        f"/companies/{company_id}/sync/expenses/expense-transactions",
        [{"id": _new_id(), "type": "Payment", "issueDate": "2026-03-01", "currency": "GBP"}],
    )

    assert response.status_code == 400
    assert "valid set of data connections" in response.json()["error"]
