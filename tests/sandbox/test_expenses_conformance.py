"""Responses of the newer Expenses API outside the SDK's happy path, checked against
Codat-Sync-Expenses.json: error bodies, failed syncs, pending transactions, the updates' 202 and
200, and the checker itself catching what it should."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sandbox.models import SandboxSettings
from tests.sandbox.conftest import BASE, Api, finish, link_company
from tests.sandbox.expenses_spec import request_problems, response_problems
from tests.sandbox.newer import expense, path, reimbursable, submit, transfer


def _check(method: str, url: str, response: Any) -> None:
    body = response.json() if response.content else None
    assert response_problems(method, BASE + url, response.status_code, body) == []


def _id() -> str:
    return str(uuid.uuid4())


def test_error_bodies_of_the_newer_writes_match_the_document(api: Api) -> None:
    xero, dynamics = link_company(api, "gbol"), link_company(api, "trji")
    tx_id = _id()
    finish(api, dynamics, submit(api, dynamics, [expense(dynamics, tx_id)]))
    create = path(xero, "expense-transactions")
    cases = [
        ("POST", create, api.post(create, [expense(xero, _id(), type="TransferIn")])),
        ("POST", create, api.post(create, {"items": []})),
        (
            "PUT",
            path(dynamics, f"expense-transactions/{tx_id}"),
            api.put(
                path(dynamics, f"expense-transactions/{tx_id}"),
                {"type": "Payment", "issueDate": "2026-03-02", "currency": "EUR"},
            ),
        ),
        (
            "PUT",
            path(xero, f"expense-transactions/{_id()}"),
            api.put(
                path(xero, f"expense-transactions/{_id()}"),
                {"type": "Payment", "issueDate": "2026-03-02", "currency": "GBP"},
            ),
        ),
        (
            "PUT",
            path(dynamics, f"transfer-transactions/{_id()}"),
            api.put(path(dynamics, f"transfer-transactions/{_id()}"), transfer(dynamics)),
        ),
        (
            "POST",
            path(xero, "reimbursable-expense-transactions"),
            api.post(path(xero, "reimbursable-expense-transactions"), [reimbursable(xero, _id())]),
        ),
        (
            "POST",
            path(xero, "adjustment-transactions"),
            api.post(path(xero, "adjustment-transactions"), [{"id": "not-a-uuid"}]),
        ),
    ]
    assert [r.status_code for _, _, r in cases] == [400, 400, 422, 404, 400, 400, 400]
    for method, url, response in cases:
        _check(method, url, response)


def test_failed_and_pending_syncs_of_the_newer_api_read_as_the_document_says(api: Api) -> None:
    linked = link_company(api, "qhyg")
    bad = expense(linked, _id())
    bad["lines"][0]["accountRef"] = {"id": "0"}
    failed = submit(api, linked, [bad])
    finish(api, linked, failed)
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    pending = submit(api, linked, [expense(linked, _id())])
    syncs = path(linked, "syncs")

    for url in (
        f"{syncs}/{failed}/status",
        f"{syncs}/{failed}/transactions",
        f"{syncs}/{failed}/transactions/{bad['id']}",
        f"{syncs}/{pending}/status",
        f"{syncs}/{pending}/transactions",
        f"{syncs}/list/status",
        f"{syncs}/latest/status",
    ):
        response = api.get(url)
        assert response.status_code == 200, url
        _check("GET", url, response)


def test_the_updates_answer_202_and_200_as_documented(api: Api) -> None:
    linked = link_company(api, "qhyg")
    tx_id, bill_id = _id(), _id()
    finish(api, linked, submit(api, linked, [expense(linked, tx_id)]))
    created = api.post(
        path(linked, "reimbursable-expense-transactions"), [reimbursable(linked, bill_id)]
    )
    finish(api, linked, created.json()["syncId"])
    update_url = path(linked, f"expense-transactions/{tx_id}")
    bill_url = path(linked, f"reimbursable-expense-transactions/{bill_id}")
    bill = {k: v for k, v in reimbursable(linked, bill_id).items() if k != "id"}

    update = api.put(update_url, {"type": "Payment", "issueDate": "2026-03-03", "currency": "USD"})
    bill_update = api.put(bill_url, bill)

    assert (update.status_code, bill_update.status_code) == (202, 200)
    _check("PUT", update_url, update)
    _check("PUT", bill_url, bill_update)
    _check("POST", path(linked, "reimbursable-expense-transactions"), created)


def test_the_checker_itself_catches_a_wrong_request_and_a_wrong_response() -> None:
    url = f"https://sandbox.test{BASE}/companies/{_id()}/sync/expenses/expense-transactions"
    headers = {"Content-Type": "application/json", "Authorization": "Basic eA=="}

    wrapped = request_problems("POST", url, headers, json.dumps({"items": []}).encode())
    bad_type = request_problems(
        "POST",
        url,
        headers,
        json.dumps(
            [{"id": _id(), "type": "TransferIn", "issueDate": "2026-01-01", "currency": "GBP"}]
        ).encode(),
    )
    good = request_problems(
        "POST",
        url,
        headers,
        json.dumps(
            [{"id": _id(), "type": "Payment", "issueDate": "2026-01-01", "currency": "GBP"}]
        ).encode(),
    )
    response = response_problems("POST", url, 200, {"syncId": "not-a-uuid"})

    assert wrapped
    assert "Security" not in wrapped[0]
    assert bad_type
    assert good == []
    assert response
