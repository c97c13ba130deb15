"""The sync engine's platform rules (API-NOTES §4), sync outcomes and the ledger."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sandbox.models import SandboxSettings
from tests.sandbox.conftest import NO_TAX, Api, Linked, finish, link_company, payment, push


def _one(api: Api, linked: Linked, item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    status, txs = finish(api, linked, push(api, linked, [item]))
    assert len(txs) == 1
    return status, txs[0]


def _refused(api: Api, linked: Linked, item: dict[str, Any]) -> str:
    status, tx = _one(api, linked, item)
    assert tx["status"] == "ValidationError", tx
    assert status["syncStatusCode"] == 5120
    assert status["syncStatus"] == "ValidateError"
    assert status["dataPushed"] is False
    assert api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json() == []
    return str(tx["message"])


def _line(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
    item["lines"][0].update(changes)
    return item


def _new() -> str:
    return str(uuid.uuid4())


@pytest.mark.parametrize(
    ("platform", "tx_type"), [("akxx", "Reward"), ("akxx", "TransferIn"), ("trji", "AdjustmentOut")]
)
def test_types_the_platform_does_not_support_are_refused(
    api: Api, platform: str, tx_type: str
) -> None:
    linked = link_company(api, platform)
    message = _refused(api, linked, payment(linked, _new(), type=tx_type))
    names = {"akxx": "Oracle NetSuite", "trji": "Dynamics 365 Business Central"}
    assert message == f"{tx_type} transactions are not supported by {names[platform]}."


def test_an_account_that_does_not_exist_is_refused(api: Api) -> None:
    linked = link_company(api, "gbol")
    message = _refused(api, linked, _line(payment(linked, _new()), accountRef={"id": "42"}))
    assert message == "Account 42 does not exist in Xero."


def test_an_account_not_valid_for_the_type_is_refused(api: Api) -> None:
    linked = link_company(api, "qhyg")
    income = linked.account("Sales")
    message = _refused(api, linked, _line(payment(linked, _new()), accountRef={"id": income["id"]}))
    assert message == f"Account {income['id']} is not valid for transaction type Payment."


def test_an_archived_account_is_refused(api: Api) -> None:
    linked = link_company(api, "gbol")
    old = linked.account("Entertainment (old)")
    message = _refused(api, linked, _line(payment(linked, _new()), accountRef={"id": old["id"]}))
    assert message == f"Account Entertainment (old) ({old['id']}) is archived in Xero."


def test_an_account_archived_through_the_control_surface_is_refused(api: Api) -> None:
    linked = link_company(api, "trji")
    account = linked.account("Travel - National")
    changed = api.post(
        f"/_sandbox/companies/{linked.company_id}/records/chartOfAccounts/{account['id']}",
        {"status": "Archived"},
    )
    assert changed.json()["status"] == "Archived"
    options = api.get(f"/companies/{linked.company_id}/sync/expenses/mappingOptions").json()
    assert account["id"] not in [a["id"] for a in options["accounts"]]
    assert "is archived" in _refused(api, linked, payment(linked, _new()))


def test_a_deleted_account_is_refused(api: Api) -> None:
    linked = link_company(api, "akxx")
    account = linked.account("Travel - National")
    api.call(
        "DELETE", f"/_sandbox/companies/{linked.company_id}/records/chartOfAccounts/{account['id']}"
    )
    assert _refused(api, linked, payment(linked, _new())) == (
        f"Account {account['id']} does not exist in Oracle NetSuite."
    )


@pytest.mark.parametrize("platform", ["gbol", "qhyg", "akxx", "trji"])
def test_a_tax_rate_is_required_except_for_transfers(api: Api, platform: str) -> None:
    linked = link_company(api, platform)
    item = payment(linked, _new())
    del item["lines"][0]["taxRateRef"]
    message = _refused(api, linked, item)
    assert message.startswith("A tax rate is required on line 1 for Payment transactions")
    assert f"use {NO_TAX[platform]} for no tax" in message


def test_a_transfer_needs_no_tax_rate_but_may_not_carry_tax(api: Api) -> None:
    linked = link_company(api, "gbol")
    other_bank = linked.bank()
    transfer = payment(linked, _new(), type="TransferIn")
    transfer["lines"][0] = {
        "netAmount": 500,
        "taxAmount": 0,
        "accountRef": {"id": other_bank["id"]},
    }
    _status, tx = _one(api, linked, transfer)
    assert tx["status"] == "Completed", tx
    taxed = payment(linked, _new(), type="TransferOut")
    taxed["lines"][0] = {"netAmount": 5, "taxAmount": 1, "accountRef": {"id": other_bank["id"]}}
    assert "Transfers cannot carry tax" in _refused_partial(api, linked, taxed)


def _refused_partial(api: Api, linked: Linked, item: dict[str, Any]) -> str:
    status, tx = _one(api, linked, item)
    assert tx["status"] == "ValidationError"
    assert status["syncStatusCode"] == 5120
    return str(tx["message"])


def test_a_transfer_to_the_configured_bank_account_itself_is_refused(api: Api) -> None:
    linked = link_company(api, "qhyg")
    card = linked.bank(credit=True)
    transfer = payment(linked, _new(), type="TransferOut")
    transfer["lines"][0] = {"netAmount": 5, "taxAmount": 0, "accountRef": {"id": card["id"]}}
    assert "a transfer needs a different bank" in _refused(api, linked, transfer)


def test_a_missing_archived_or_wrong_tax_rate_is_refused(api: Api) -> None:
    linked = link_company(api, "gbol")
    assert _refused_partial(
        api, linked, _line(payment(linked, _new()), taxRateRef={"id": "VAT99"})
    ) == ("Tax rate VAT99 does not exist in Xero.")
    assert _refused_partial(
        api, linked, _line(payment(linked, _new()), taxRateRef={"id": "INPUT17"})
    ) == ("Tax rate 17.5% (VAT on Expenses) (INPUT17) is archived in Xero.")
    assert _refused_partial(
        api, linked, _line(payment(linked, _new()), taxRateRef={"id": "OUTPUT2"})
    ) == ("Tax rate 20% (VAT on Income) (OUTPUT2) is not valid for transaction type Payment.")


def test_tracking_must_be_an_active_option_not_a_parent(api: Api) -> None:
    linked = link_company(api, "akxx")
    parent = next(t for t in linked.tracking if t["hasChildren"])
    archived = next(t for t in linked.tracking if t["status"] == "Archived")
    assert "is a parent category" in _refused_partial(
        api, linked, _line(payment(linked, _new()), trackingRefs=[{"id": parent["id"]}])
    )
    assert "is archived" in _refused_partial(
        api, linked, _line(payment(linked, _new()), trackingRefs=[{"id": archived["id"]}])
    )
    assert "Tracking category nope does not exist" in _refused_partial(
        api, linked, _line(payment(linked, _new()), trackingRefs=[{"id": "nope"}])
    )


def test_xero_refunds_need_the_configured_customer(api: Api) -> None:
    linked = link_company(api, "gbol")
    config_path = f"/companies/{linked.company_id}/sync/expenses/config"
    config = api.get(config_path).json()
    api.post(config_path, {**config, "customer": {}})
    refund = payment(linked, _new(), type="Refund")
    assert _refused(api, linked, refund) == (
        "Xero records Refund transactions against a customer: set a default customer in the "
        "company configuration."
    )


def test_qbo_refunds_use_a_supplier_not_a_customer(api: Api) -> None:
    linked = link_company(api, "qhyg")
    config_path = f"/companies/{linked.company_id}/sync/expenses/config"
    api.post(config_path, {**api.get(config_path).json(), "customer": {}})
    _status, tx = _one(api, linked, payment(linked, _new(), type="Refund"))
    assert tx["status"] == "Completed", tx
    ledger = api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()
    assert ledger[0]["contact"]["kind"] == "Supplier"


def test_a_payment_without_any_supplier_is_refused(api: Api) -> None:
    linked = link_company(api, "akxx")
    config_path = f"/companies/{linked.company_id}/sync/expenses/config"
    api.post(config_path, {**api.get(config_path).json(), "supplier": {}})
    assert "records Payment transactions against a supplier" in _refused(
        api, linked, payment(linked, _new())
    )


def test_the_transaction_supplier_overrides_the_configured_one(api: Api) -> None:
    linked = link_company(api, "gbol")
    supplier = next(
        s for s in linked.suppliers if s["status"] == "Active" and s["defaultCurrency"] == "GBP"
    )
    _status, tx = _one(
        api, linked, payment(linked, _new(), contactRef={"id": supplier["id"], "type": "Supplier"})
    )
    assert tx["status"] == "Completed"
    ledger = api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()
    assert ledger[0]["contact"] == {
        "kind": "Supplier",
        "id": supplier["id"],
        "name": supplier["supplierName"],
    }


def test_archived_unknown_and_wrong_currency_suppliers_are_refused(api: Api) -> None:
    linked = link_company(api, "qhyg")
    archived = next(s for s in linked.suppliers if s["status"] == "Archived")
    foreign = next(s for s in linked.suppliers if s["defaultCurrency"] == "CAD")
    assert "is not in an Active state" in _refused_partial(
        api, linked, payment(linked, _new(), contactRef={"id": archived["id"]})
    )
    assert "Supplier 999999 does not exist" in _refused_partial(
        api, linked, payment(linked, _new(), contactRef={"id": "999999"})
    )
    assert "trades in CAD only; the transaction is in USD" in _refused_partial(
        api, linked, payment(linked, _new(), contactRef={"id": foreign["id"]})
    )


def test_dynamics_takes_no_supplier_per_transaction(api: Api) -> None:
    linked = link_company(api, "trji")
    supplier = next(s for s in linked.suppliers if s["status"] == "Active")
    assert "cannot take a supplier per transaction" in _refused(
        api, linked, payment(linked, _new(), contactRef={"id": supplier["id"]})
    )


# The FX matrix of API-NOTES §4.4: (platform, bank account currency, transaction currency, ok?).
# Bases: Xero GBP (foreign USD), QBO USD (CAD), NetSuite USD (EUR), Dynamics EUR (USD).
@pytest.mark.parametrize(
    ("platform", "bank", "txn", "accepted"),
    [
        ("gbol", "GBP", "GBP", True),
        ("gbol", "USD", "USD", True),
        ("gbol", "USD", "GBP", True),
        ("gbol", "GBP", "EUR", True),
        ("gbol", "USD", "EUR", True),
        ("qhyg", "USD", "USD", True),
        ("qhyg", "CAD", "CAD", True),
        ("qhyg", "CAD", "USD", False),
        ("qhyg", "USD", "CAD", True),
        ("qhyg", "CAD", "EUR", False),
        ("akxx", "USD", "USD", True),
        ("akxx", "EUR", "EUR", False),
        ("akxx", "USD", "EUR", True),
        ("trji", "EUR", "EUR", True),
        ("trji", "USD", "USD", True),
        ("trji", "USD", "EUR", False),
        ("trji", "EUR", "USD", False),
    ],
)
def test_the_currency_matrix(api: Api, platform: str, bank: str, txn: str, accepted: bool) -> None:
    linked = link_company(api, platform)
    config_path = f"/companies/{linked.company_id}/sync/expenses/config"
    api.post(
        config_path,
        {
            **api.get(config_path).json(),
            "bankAccount": {"id": linked.bank(bank, credit=True)["id"]},
        },
    )
    item = payment(linked, _new(), currency=txn, currencyRate=1.25)
    _status, tx = _one(api, linked, item)
    assert (tx["status"] == "Completed") is accepted, tx
    if accepted:
        ledger = api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()
        # Xero books in the bank account's currency, the others in the transaction's.
        assert ledger[0]["currency"] == (bank if platform == "gbol" else txn)


def test_a_foreign_transaction_needs_a_rate(api: Api) -> None:
    linked = link_company(api, "qhyg")
    message = _refused(api, linked, payment(linked, _new(), currency="CAD"))
    assert message == (
        "A currencyRate is required: the transaction is recorded in CAD and the company's base "
        "currency is USD."
    )


def test_a_completed_transaction_is_never_written_again(api: Api) -> None:
    linked = link_company(api, "gbol")
    done, fresh = _new(), _new()
    first_status, _ = finish(api, linked, push(api, linked, [payment(linked, done)]))
    assert first_status["syncStatusCode"] == 2000

    status, txs = finish(
        api, linked, push(api, linked, [payment(linked, fresh), payment(linked, done)])
    )

    assert status["syncStatusCode"] == 5080
    assert (
        status["errorMessage"] == f"One or more transactions have previously been processed: {done}"
    )
    assert {t["transactionId"]: t["status"] for t in txs} == {
        fresh: "ValidationError",
        done: "ValidationError",
    }
    ledger = api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()
    assert [r["transactionId"] for r in ledger] == [done]


def test_a_failed_transaction_can_be_sent_again_in_a_new_dataset(api: Api) -> None:
    linked = link_company(api, "gbol")
    tx_id = _new()
    _refused(api, linked, _line(payment(linked, tx_id), accountRef={"id": "nope"}))
    status, tx = _one(api, linked, payment(linked, tx_id))
    assert status["syncStatusCode"] == 2000
    assert tx["status"] == "Completed"


def test_the_same_id_twice_in_one_sync_is_written_once(api: Api) -> None:
    linked = link_company(api, "gbol")
    tx_id = _new()
    _status, txs = finish(
        api, linked, push(api, linked, [payment(linked, tx_id), payment(linked, tx_id)])
    )
    assert [t["status"] for t in txs] == ["Completed", "ValidationError"]
    assert len(api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()) == 1


def test_a_sync_with_some_failures_writes_the_rest_and_ends_5120(api: Api) -> None:
    linked = link_company(api, "qhyg")
    good, bad = _new(), _new()
    status, _txs = finish(
        api,
        linked,
        push(
            api,
            linked,
            [payment(linked, good), _line(payment(linked, bad), accountRef={"id": "0"})],
        ),
    )
    assert status["syncStatusCode"] == 5120
    assert status["dataPushed"] is True
    assert "1 of 2 transactions failed validation" in status["errorMessage"]
    assert [
        r["transactionId"]
        for r in api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()
    ] == [good]


def test_a_locked_period_is_a_push_error(api: Api) -> None:
    linked = link_company(api, "gbol")
    status, tx = _one(api, linked, payment(linked, _new(), issueDate="2020-06-30T00:00:00Z"))
    assert tx["status"] == "PushError"
    assert tx["message"] == (
        "Xero refused the record: the transaction date 2020-06-30 is on or before the period "
        "lock date 2020-12-31."
    )
    assert status["syncStatusCode"] == 5130
    assert status["syncStatus"] == "PushError"
    assert status["errorMessage"].startswith(
        "An error occurred in a downstream service. Correlation ID: "
    )


def test_moving_the_lock_date_through_the_control_surface(api: Api) -> None:
    linked = link_company(api, "akxx")
    api.post(
        f"/_sandbox/companies/{linked.company_id}/records/company/{linked.company_id}",
        {"ledgerLockDate": "2026-06-30T00:00:00"},
    )
    _status, tx = _one(api, linked, payment(linked, _new(), issueDate="2026-06-01"))
    assert tx["status"] == "PushError"


def test_no_configuration_is_a_4000_and_nothing_is_written(api: Api) -> None:
    linked = link_company(api, "trji", configure=False)
    status, tx = _one(api, linked, payment(linked, _new()))
    assert status["syncStatusCode"] == 4000
    assert "Company configuration has not been set" in status["errorMessage"]
    assert tx["status"] == "ValidationError"


@pytest.mark.parametrize("key", ["bankAccount", "supplier", "customer"])
def test_configuration_pointing_at_missing_records_is_a_4000(api: Api, key: str) -> None:
    linked = link_company(api, "gbol")
    config_path = f"/companies/{linked.company_id}/sync/expenses/config"
    api.post(config_path, {**api.get(config_path).json(), key: {"id": "gone"}})
    status, _ = _one(api, linked, payment(linked, _new()))
    assert status["syncStatusCode"] == 4000
    assert "gone" in status["errorMessage"]


def test_a_configured_account_that_is_not_a_bank_account_is_a_4000(api: Api) -> None:
    linked = link_company(api, "gbol")
    config_path = f"/companies/{linked.company_id}/sync/expenses/config"
    api.post(
        config_path,
        {**api.get(config_path).json(), "bankAccount": {"id": linked.account("Sales")["id"]}},
    )
    status, _ = _one(api, linked, payment(linked, _new()))
    assert status["syncStatusCode"] == 4000
    assert "is not an active bank or credit-card account" in status["errorMessage"]


@pytest.mark.parametrize("how", ["deauthorize", "unlink"])
def test_a_connection_lost_after_initiating_is_a_4040(api: Api, how: str) -> None:
    linked = link_company(api, "gbol")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    sync_id = push(api, linked, [payment(linked, _new())])
    if how == "deauthorize":
        api.post(
            f"/_sandbox/companies/{linked.company_id}/connections/{linked.connection_id}/deauthorize"
        )
    else:
        api.call(
            "PATCH",
            f"/companies/{linked.company_id}/connections/{linked.connection_id}",
            {"status": "Unlinked"},
        )

    status, txs = finish(api, linked, sync_id)

    assert status["syncStatusCode"] == 4040
    assert "authorize it again" in status["errorMessage"]
    assert txs[0]["status"] == "ValidationError"


@pytest.mark.parametrize(
    ("platform", "tx_type", "account_name"),
    [
        ("gbol", "Reward", "Cashback and Rewards"),
        ("gbol", "Chargeback", "Travel - National"),
        ("gbol", "AdjustmentIn", "Foreign Exchange Gains and Losses"),
        ("qhyg", "AdjustmentOut", "Bank Fees"),
        ("akxx", "Refund", "Office Supplies"),
        ("trji", "Reward", "Cashback and Rewards"),
    ],
)
def test_each_platform_writes_the_types_it_supports(
    api: Api, platform: str, tx_type: str, account_name: str
) -> None:
    linked = link_company(api, platform)
    item = payment(linked, _new(), type=tx_type)
    item["lines"][0]["accountRef"] = {"id": linked.account(account_name)["id"]}
    status, tx = _one(api, linked, item)
    assert tx["status"] == "Completed", tx
    assert status["syncStatusCode"] == 2000
    ledger = api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()
    assert ledger[0]["type"] == tx_type
    assert ledger[0]["lines"][0]["accountName"] == account_name


def test_the_completed_message_names_the_record_created(api: Api) -> None:
    linked = link_company(api, "qhyg")
    _, tx = _one(api, linked, payment(linked, _new()))
    assert tx["message"].startswith("Expense ")
    assert tx["message"].endswith(" created in QuickBooks Online.")


def test_tax_on_a_zero_rate_breaks_the_line_total(api: Api) -> None:
    linked = link_company(api, "gbol")
    item = payment(linked, _new())
    item["lines"] = [
        {**item["lines"][0], "netAmount": 100, "taxAmount": 20},
        {**item["lines"][0], "netAmount": 10.5, "taxAmount": 2.1, "taxRateRef": {"id": "INPUT2"}},
    ]
    assert _refused(api, linked, item) == (
        "The line item total 112.60((100.00 + 0.00) + (10.50 + 2.10)) must equal the "
        "transaction total 132.60"
    )


def test_long_names_and_notes_are_kept_whole(api: Api) -> None:
    linked = link_company(api, "gbol")
    long_text = "x" * 2000
    item = payment(linked, _new(), merchantName=long_text, notes=long_text)
    _status, tx = _one(api, linked, item)
    assert tx["status"] == "Completed"
    assert (
        api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()[0]["merchantName"]
        == long_text
    )
    assert api.post("/companies", {"name": "A" * 500}).json()["name"] == "A" * 500
