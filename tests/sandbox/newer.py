"""Helpers for tests of the newer Expenses API on the sandbox (Codat-Sync-Expenses.json): the
bodies it takes and a submit-and-finish shortcut, beside conftest's v1 helpers."""

from __future__ import annotations

from typing import Any

from tests.sandbox.conftest import NO_TAX, Api, Linked, finish

EXPENSES = "/sync/expenses"


def path(linked: Linked, rest: str) -> str:
    return f"/companies/{linked.company_id}{EXPENSES}/{rest}"


def expense(linked: Linked, tx_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid Payment in the newer shape: `contactRef.type`, only `netAmount` required on a
    line (the tax rate is still needed by every platform of the sandbox)."""
    account = linked.account("Travel - National")
    item: dict[str, Any] = {
        "id": tx_id,
        "type": "Payment",
        "issueDate": "2026-03-01T00:00:00Z",
        "currency": linked.info["baseCurrency"],
        "merchantName": "Trainline",
        "lines": [
            {
                "netAmount": 100.00,
                "accountRef": {"id": account["id"]},
                "taxRateRef": {"id": NO_TAX[linked.platform]},
            }
        ],
    }
    item.update(overrides)
    return item


def employee(linked: Linked) -> dict[str, Any]:
    """An active supplier trading in the base currency, standing for an employee."""
    base = linked.info["baseCurrency"]
    return next(
        s
        for s in linked.suppliers
        if s["status"] == "Active" and s["defaultCurrency"] in (None, base)
    )


def reimbursable(linked: Linked, tx_id: str, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": tx_id,
        "reference": "Claims w/c 2026-03-02",
        "contactRef": {"id": employee(linked)["id"]},
        "issueDate": "2026-03-06",
        "dueDate": "2026-03-31",
        "currency": linked.info["baseCurrency"],
        "notes": "Train to the client",
        "lines": [
            {
                "description": "Train",
                "netAmount": 42.50,
                "taxAmount": 0,
                "accountRef": {"id": linked.account("Travel - National")["id"]},
                "taxRateRef": {"id": NO_TAX[linked.platform]},
            }
        ],
    }
    item.update(overrides)
    return item


def transfer(
    linked: Linked, *, amount: float = 250.0, to_amount: float | None = None
) -> dict[str, Any]:
    """A card top-up: from the current account to the corporate card, both in base currency."""
    return {
        "description": "Card top-up",
        "date": "2026-03-02T00:00:00Z",
        "from": {"accountRef": {"id": linked.bank()["id"]}, "amount": amount},
        "to": {
            "accountRef": {"id": linked.bank(credit=True)["id"]},
            "amount": amount if to_amount is None else to_amount,
        },
    }


def submit(api: Api, linked: Linked, items: list[dict[str, Any]], **extra: Any) -> str:
    response = api.post(path(linked, "expense-transactions"), items, **extra)
    assert response.status_code == 200, response.content
    return str(response.json()["syncId"])


def submit_and_finish(
    api: Api, linked: Linked, items: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return finish(api, linked, submit(api, linked, items))


def ledger(api: Api, linked: Linked) -> list[dict[str, Any]]:
    return list(api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json())
