"""The ledger each platform starts with, and the mapping options built from it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sandbox.platforms import ALL_TYPES, PLATFORMS, seed_ledger
from tests.sandbox.conftest import NO_TAX, Api, link_company

BASES = {"gbol": "GBP", "qhyg": "USD", "akxx": "USD", "trji": "EUR"}


def test_a_ledger_is_deterministic_from_the_company_id() -> None:
    company_id = uuid.UUID("6f1c1d5e-2f0a-4a57-9b8e-0d0c1f2a3b4c")
    for platform in PLATFORMS.values():
        assert seed_ledger(platform, company_id, "Acme") == seed_ledger(
            platform, company_id, "Acme"
        )
    other = seed_ledger(PLATFORMS["gbol"], uuid.uuid4(), "Acme")
    assert [a["id"] for a in other["chartOfAccounts"]] != [
        a["id"] for a in seed_ledger(PLATFORMS["gbol"], company_id, "Acme")["chartOfAccounts"]
    ]


@pytest.mark.parametrize("key", ["gbol", "qhyg", "akxx", "trji"])
def test_every_platform_seeds_a_realistic_ledger(key: str) -> None:
    ledger = seed_ledger(PLATFORMS[key], uuid.uuid4(), "Acme")
    accounts = ledger["chartOfAccounts"]
    banks = [a for a in accounts if a["isBankAccount"]]

    assert ledger["company"][0]["baseCurrency"] == BASES[key]
    assert len({b["currency"] for b in banks}) == 2
    assert {b["type"] for b in banks} == {"Asset", "Liability"}
    assert {a["type"] for a in accounts} == {"Asset", "Liability", "Equity", "Income", "Expense"}
    assert any(a["status"] == "Archived" for a in accounts)
    assert len({a["id"] for a in accounts}) == len(accounts)
    assert NO_TAX[key] in {t["id"] for t in ledger["taxRates"]}
    assert {t["status"] for t in ledger["taxRates"]} == {"Active", "Archived"}
    parents = [t for t in ledger["trackingCategories"] if t["hasChildren"]]
    assert [p["name"] for p in parents] == ["Departments", "Locations"]
    children = [t for t in ledger["trackingCategories"] if t["parentId"]]
    assert {c["parentId"] for c in children} == {p["id"] for p in parents}
    assert {s["status"] for s in ledger["suppliers"]} == {"Active", "Archived"}
    assert {c["status"] for c in ledger["customers"]} == {"Active", "Archived"}
    assert {b["id"] for b in ledger["bankAccounts"]} == {b["id"] for b in banks}


def test_account_ids_follow_each_platforms_style() -> None:
    company_id = uuid.uuid4()
    xero = seed_ledger(PLATFORMS["gbol"], company_id, "A")["chartOfAccounts"][0]
    qbo = seed_ledger(PLATFORMS["qhyg"], company_id, "A")["chartOfAccounts"][0]
    netsuite = seed_ledger(PLATFORMS["akxx"], company_id, "A")["chartOfAccounts"][0]

    assert uuid.UUID(xero["id"])
    assert xero["nominalCode"].isdigit()
    assert qbo["id"].isdigit()
    assert qbo["nominalCode"] is None
    assert netsuite["nominalCode"] == "1000"


def _options(api: Api, platform: str) -> dict[str, Any]:
    linked = link_company(api, platform, configure=False)
    response = api.get(f"/companies/{linked.company_id}/sync/expenses/mappingOptions")
    assert response.status_code == 200
    return dict(response.json())


def test_mapping_options_say_which_types_each_account_takes(api: Api) -> None:
    options = _options(api, "gbol")
    by_name = {a["name"]: a for a in options["accounts"]}

    assert options["expenseProvider"] == "Partner Expense"
    assert by_name["Travel - National"]["validTransactionTypes"] == [
        "Payment",
        "Refund",
        "Chargeback",
        "AdjustmentIn",
        "AdjustmentOut",
    ]
    assert by_name["Cashback and Rewards"]["validTransactionTypes"] == [
        "Reward",
        "AdjustmentIn",
        "AdjustmentOut",
    ]
    assert by_name["Business Current Account"]["validTransactionTypes"] == [
        "TransferIn",
        "TransferOut",
    ]
    assert by_name["Retained Earnings"]["validTransactionTypes"] == []
    assert "Entertainment (old)" not in by_name
    taxes = {t["id"]: t for t in options["taxRates"]}
    assert taxes["NONE"]["validTransactionTypes"] == list(ALL_TYPES)
    assert "Payment" not in taxes["OUTPUT2"]["validTransactionTypes"]
    assert "INPUT17" not in taxes
    assert any(t["hasChildren"] for t in options["trackingCategories"])


def test_netsuite_accounts_take_only_payments_and_refunds(api: Api) -> None:
    options = _options(api, "akxx")
    kinds = {t for a in options["accounts"] for t in a["validTransactionTypes"]}
    assert kinds == {"Payment", "Refund"}


def test_dynamics_accounts_take_no_transfers_or_adjustments(api: Api) -> None:
    options = _options(api, "trji")
    kinds = {t for a in options["accounts"] for t in a["validTransactionTypes"]}
    assert kinds == {"Payment", "Refund", "Reward", "Chargeback"}


def test_mapping_options_are_empty_before_the_first_fetch(api: Api) -> None:
    company_id = api.post("/companies", {"name": "New"}).json()["id"]
    options = api.get(f"/companies/{company_id}/sync/expenses/mappingOptions").json()
    assert options == {
        "expenseProvider": "Partner Expense",
        "accounts": [],
        "trackingCategories": [],
        "taxRates": [],
    }


def test_a_test_can_add_and_change_records_of_the_chart(api: Api) -> None:
    linked = link_company(api, "qhyg", configure=False)
    base = f"/_sandbox/companies/{linked.company_id}/records/chartOfAccounts"
    new = {**linked.account("Bank Fees"), "id": "999", "name": "Subsistence"}

    assert api.post(base, new).status_code == 200
    options = api.get(f"/companies/{linked.company_id}/sync/expenses/mappingOptions").json()
    assert "Subsistence" in [a["name"] for a in options["accounts"]]
    renamed = api.call("PATCH", f"{base}/999", {"name": "Meals (travel)"})
    assert renamed.json()["name"] == "Meals (travel)"
    assert api.call("DELETE", f"{base}/999").json()["metadata"]["isDeleted"] is True
    assert api.post(f"{base}/nope", {"status": "Archived"}).status_code == 404
    assert (
        api.post(
            f"/_sandbox/companies/{linked.company_id}/records/widgets", {"id": "1"}
        ).status_code
        == 400
    )


def test_the_ledger_page_shows_what_the_accountant_sees(api: Api) -> None:
    from tests.sandbox.conftest import finish, payment, push

    linked = link_company(api, "gbol")
    item = payment(linked, str(uuid.uuid4()), merchantName="Great Western Railway")
    option = next(t for t in linked.tracking if t["parentId"] and t["status"] == "Active")
    item["lines"][0]["trackingRefs"] = [{"id": option["id"]}]
    finish(api, linked, push(api, linked, [item]))

    page = api.client.get(f"/codat-sandbox/ledger/{linked.company_id}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Spend money" in html
    assert "Great Western Railway" in html
    assert "Travel - National" in html
    assert f"Departments: {option['name']}" in html or f"Locations: {option['name']}" in html
    assert "0 attachments" in html
    assert '<td class="num">100.00</td>' in html
    assert api.client.get("/codat-sandbox/ledger/not-a-company/").status_code == 404
