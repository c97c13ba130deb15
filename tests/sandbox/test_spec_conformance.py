"""Responses outside the happy path, checked against the official v1 OpenAPI document too:
error bodies, failed syncs, pending transactions, empty lists and update's 202."""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.models import SandboxSettings
from tests.sandbox.conftest import BASE, Api, finish, link_company, payment, push
from tests.sandbox.spec import response_problems


def _check(method: str, path: str, response: Any) -> None:
    body = response.json() if response.content else None
    assert response_problems(method, BASE + path, response.status_code, body) == []


def test_error_bodies_match_the_spec(api: Api) -> None:
    linked = link_company(api, "qhyg")
    company = f"/companies/{linked.company_id}"
    cases = [
        ("GET", "/companies", api.client.get(BASE + "/companies")),  # 401
        ("GET", f"/companies/{uuid.uuid4()}", api.get(f"/companies/{uuid.uuid4()}")),
        ("GET", "/companies", api.get("/companies", data={"query": "name="})),
        (
            "POST",
            f"{company}/sync/expenses/data/expense-transactions",
            api.post(f"{company}/sync/expenses/data/expense-transactions", {"items": []}),
        ),
        (
            "PUT",
            f"{company}/sync/expenses/expense-transactions/{uuid.uuid4()}",
            api.put(
                f"{company}/sync/expenses/expense-transactions/{uuid.uuid4()}",
                {"type": "Payment", "issueDate": "2026-01-01"},
            ),
        ),
        (
            "GET",
            f"{company}/sync/expenses/syncs/latest/status",
            api.get(f"{company}/sync/expenses/syncs/latest/status"),
        ),
    ]
    assert [r.status_code for _, _, r in cases] == [401, 404, 400, 400, 422, 404]
    for method, path, response in cases:
        _check(method, path, response)

    api.put("/_sandbox/faults", {"rate_limit_every": 1})
    limited = api.get("/companies")
    assert limited.status_code == 429
    _check("GET", "/companies", limited)


def test_failed_and_pending_sync_reads_match_the_spec(api: Api) -> None:
    linked = link_company(api, "gbol")
    base = f"/companies/{linked.company_id}/sync/expenses/syncs"
    bad = payment(linked, str(uuid.uuid4()))
    bad["lines"][0]["accountRef"] = {"id": "0"}
    failed = push(api, linked, [bad])
    finish(api, linked, failed)
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    pending = push(api, linked, [payment(linked, str(uuid.uuid4()))])

    for path in (
        f"{base}/{failed}/status",
        f"{base}/{failed}/transactions",
        f"{base}/{failed}/transactions/{bad['id']}",
        f"{base}/{pending}/status",
        f"{base}/{pending}/transactions",
        f"{base}/list/status",
        f"{base}/latest/status",
    ):
        response = api.get(path)
        assert response.status_code == 200, path
        _check("GET", path, response)


def test_update_mapping_and_company_reads_match_the_spec(api: Api) -> None:
    linked = link_company(api, "gbol")
    tx_id = str(uuid.uuid4())
    finish(api, linked, push(api, linked, [payment(linked, tx_id)]))
    company = f"/companies/{linked.company_id}"
    update_path = f"{company}/sync/expenses/expense-transactions/{tx_id}"
    update = api.put(update_path, {"type": "Payment", "issueDate": "2026-03-03"})
    assert update.status_code == 202
    _check("PUT", update_path, update)

    for path in (
        company,
        f"{company}/connections",
        f"{company}/sync/expenses/mappingOptions",
        "/companies",
    ):
        _check("GET", path, api.get(path))
    patched = api.call("PATCH", company, {"description": "Updated"})
    _check("PATCH", company, patched)
    unlink = api.call(
        "PATCH", f"{company}/connections/{linked.connection_id}", {"status": "Unlinked"}
    )
    _check("PATCH", f"{company}/connections/{linked.connection_id}", unlink)
    deleted = api.call("DELETE", f"{company}/connections/{linked.connection_id}")
    _check("DELETE", f"{company}/connections/{linked.connection_id}", deleted)
    _check("DELETE", company, api.call("DELETE", company))


def test_the_spec_check_itself_catches_a_wrong_shape() -> None:
    problems = response_problems(
        "GET",
        BASE + f"/companies/{uuid.uuid4()}/sync/expenses/syncs/{uuid.uuid4()}/status",
        200,
        {"syncStatusCode": "2000", "surprise": True},
    )
    assert len(problems) == 2
