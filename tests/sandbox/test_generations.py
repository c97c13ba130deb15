"""Both generations side by side on one base URL: duplicate protection shared per company, the
routes both share answering in the company's generation, and v1 switched off as on 2027-05-01."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openapi_schema_validator import OAS30Validator

from sandbox.models import SandboxLedgerRecord
from tests.codat_openapi import V1_DOCUMENT, read_document
from tests.sandbox import expenses_spec, spec
from tests.sandbox.conftest import AUTH, BASE, Api, finish, link_company, payment, push
from tests.sandbox.newer import expense, ledger, path, submit, submit_and_finish


def _id() -> str:
    return str(uuid.uuid4())


def test_an_id_written_through_v1_is_a_duplicate_through_the_newer_api(api: Api) -> None:
    linked = link_company(api, "gbol")
    tx_id = _id()
    finish(api, linked, push(api, linked, [payment(linked, tx_id)]))

    status, txs = submit_and_finish(api, linked, [expense(linked, tx_id)])

    assert (status["syncStatusCode"], status["errorMessage"]) == (
        5080,
        f"One or more transactions have previously been processed: {tx_id}",
    )
    assert txs[0]["status"] == "ValidationError"
    assert SandboxLedgerRecord.objects.filter(transaction_id=tx_id).count() == 1


def test_an_id_written_through_the_newer_api_is_a_duplicate_through_v1(api: Api) -> None:
    linked = link_company(api, "qhyg")
    tx_id = _id()
    submit_and_finish(api, linked, [expense(linked, tx_id)])

    status, _ = finish(api, linked, push(api, linked, [payment(linked, tx_id)]))

    assert status["syncStatusCode"] == 5080
    assert ledger(api, linked)[0]["api"] == "expenses"


def test_the_newer_update_finds_a_payment_v1_wrote(api: Api) -> None:
    linked = link_company(api, "qhyg")
    tx_id = _id()
    finish(api, linked, push(api, linked, [payment(linked, tx_id)]))
    api.put(f"/_sandbox/companies/{linked.company_id}/api", {"api": "expenses"})

    response = api.put(
        path(linked, f"expense-transactions/{tx_id}"),
        {"type": "Payment", "issueDate": "2026-03-09", "currency": "USD", "notes": "Moved"},
    )
    status, _ = finish(api, linked, response.json()["syncId"])

    assert response.status_code == 202
    assert status["syncStatusCode"] == 2000
    record = ledger(api, linked)[0]
    assert (record["version"], record["api"], record["notes"]) == (2, "expenses", "Moved")


def test_a_company_speaks_the_generation_it_last_wrote_through(api: Api) -> None:
    linked = link_company(api, "gbol")
    company = f"/companies/{linked.company_id}"

    before = api.get(company).json()["products"]
    submit(api, linked, [expense(linked, _id())])
    after_newer = api.get(company).json()["products"]
    push(api, linked, [payment(linked, _id())])
    after_v1 = api.get(f"/_sandbox/companies/{linked.company_id}/api").json()

    assert (before, after_newer) == (["expenses-v1"], ["expenses"])
    assert after_v1 == {"api": "v1", "products": ["expenses-v1"], "v1Enabled": True}


def _options(api: Api, linked: Any) -> dict[str, Any]:
    response = api.get(path(linked, "mappingOptions"))
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize("platform", ["gbol", "qhyg", "akxx", "trji"])
def test_mapping_options_take_each_generations_shape_and_validate_against_its_document(
    api: Api, platform: str
) -> None:
    linked = link_company(api, platform)
    v1 = _options(api, linked)
    api.put(f"/_sandbox/companies/{linked.company_id}/api", {"api": "expenses"})
    newer = _options(api, linked)

    url = BASE + path(linked, "mappingOptions")
    assert spec.response_problems("GET", url, 200, v1) == []
    assert expenses_spec.response_problems("GET", url, 200, newer) == []
    assert set(v1["accounts"][0]) == {
        "id",
        "name",
        "currency",
        "accountType",
        "validTransactionTypes",
    }
    assert set(newer["accounts"][0]) == {
        "id",
        "nominalCode",
        "name",
        "currency",
        "accountType",
        "fullyQualifiedCategory",
        "isBankAccount",
        "validTransactionTypes",
        "validFor",
    }
    assert "modifiedDate" in v1["trackingCategories"][0]
    assert "modifiedDate" not in newer["trackingCategories"][0]
    # The same accounts, in the same order, in both.
    assert [a["id"] for a in v1["accounts"]] == [a["id"] for a in newer["accounts"]]


def test_valid_for_follows_what_each_platform_takes(api: Api) -> None:
    found: dict[str, dict[str, list[str]]] = {}
    for platform in ("gbol", "qhyg", "akxx", "trji"):
        linked = link_company(api, platform)
        api.put(f"/_sandbox/companies/{linked.company_id}/api", {"api": "expenses"})
        found[platform] = {a["name"]: a["validFor"] for a in _options(api, linked)["accounts"]}

    assert found["gbol"]["Travel - National"] == [
        "expense-transactions.Payment",
        "expense-transactions.Refund",
        "expense-transactions.Chargeback",
    ]
    assert found["qhyg"]["Travel - National"][-1] == "reimbursable-expense-transactions"
    assert found["akxx"]["Travel - National"] == [
        "expense-transactions.Payment",
        "expense-transactions.Refund",
        "reimbursable-expense-transactions",
    ]
    assert found["gbol"]["Corporate Card"] == ["transfer-transactions"]
    assert found["qhyg"]["Corporate Card"] == ["transfer-transactions"]
    assert found["akxx"]["Corporate Card"] == found["trji"]["Corporate Card"] == []
    assert found["gbol"]["Cashback and Rewards"] == ["expense-transactions.Reward"]
    assert not any(
        "adjustment-transactions" in valid
        for accounts in found.values()
        for valid in accounts.values()
    )


def test_with_v1_switched_off_its_own_operations_answer_410_gone(api: Api) -> None:
    linked = link_company(api, "gbol")
    company = f"/companies/{linked.company_id}/sync/expenses"
    tx_id = _id()
    finish(api, linked, push(api, linked, [payment(linked, tx_id)]))
    dataset = api.post(f"{company}/data/expense-transactions", {"items": [payment(linked, _id())]})

    switched = api.put("/_sandbox/settings", {"v1_enabled": False})
    create = api.post(f"{company}/data/expense-transactions", {"items": [payment(linked, _id())]})
    initiate = api.post(f"{company}/syncs", {"datasetIds": [dataset.json()["datasetId"]]})

    assert switched.json()["v1_enabled"] is False
    assert (create.status_code, initiate.status_code) == (410, 410)
    error_message = OAS30Validator(
        {**read_document(V1_DOCUMENT), "$ref": "#/components/schemas/ErrorMessage"}
    )
    for response in (create, initiate):
        body = response.json()
        error_message.validate(body)
        assert body["statusCode"] == 410
        assert body["error"].startswith("Sync for Expenses v1 was retired on 2027-05-01")
        assert body["canBeRetried"] == "No"
    assert "expense-transactions" in create.json()["error"]


def test_with_v1_switched_off_the_shared_operations_keep_working(api: Api) -> None:
    linked = link_company(api, "qhyg")
    company = f"/companies/{linked.company_id}/sync/expenses"
    tx_id = _id()
    sync_id = push(api, linked, [payment(linked, tx_id)])
    finish(api, linked, sync_id)

    api.put("/_sandbox/settings", {"v1_enabled": False})
    reads = [
        api.get(f"{company}/syncs/{sync_id}/status"),
        api.get(f"{company}/syncs/{sync_id}/transactions"),
        api.get(f"{company}/syncs/{sync_id}/transactions/{tx_id}"),
        api.get(f"{company}/syncs/latest/status"),
        api.get(f"{company}/syncs/list/status"),
        api.get(f"{company}/config"),
        api.get(f"{company}/mappingOptions"),
    ]
    saved = api.post(f"{company}/config", api.get(f"{company}/config").json())
    attached = api.client.post(
        f"{BASE}{company}/syncs/{sync_id}/transactions/{tx_id}/attachments",
        {"file": SimpleUploadedFile("r.pdf", b"%PDF", "application/pdf")},
        HTTP_AUTHORIZATION=AUTH,
    )
    v1_update = api.put(
        f"{company}/expense-transactions/{tx_id}", {"type": "Payment", "issueDate": "2026-03-09"}
    )
    newer = submit(api, linked, [expense(linked, _id())])

    assert [r.status_code for r in reads] == [200] * len(reads)
    assert "validFor" in reads[-1].json()["accounts"][0]
    assert (saved.status_code, attached.status_code) == (200, 200)
    # The update path is shared: it now takes the newer body, which requires a currency.
    assert v1_update.status_code == 400
    assert v1_update.json()["validation"]["errors"][0]["itemId"] == "Currency"
    assert finish(api, linked, newer)[0]["syncStatusCode"] == 2000
    assert api.get(f"/companies/{linked.company_id}").json()["products"] == ["expenses"]


def test_v1_switches_back_on(api: Api) -> None:
    linked = link_company(api, "gbol")
    api.put("/_sandbox/settings", {"v1_enabled": False})
    api.put("/_sandbox/settings", {"v1_enabled": True})

    status, _ = finish(api, linked, push(api, linked, [payment(linked, _id())]))

    assert status["syncStatusCode"] == 2000
    assert api.put("/_sandbox/settings", {"v1_enabled": "no"}).status_code == 400
