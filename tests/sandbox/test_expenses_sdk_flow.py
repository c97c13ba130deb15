"""The newer generation's flow driven by Codat's official Python SDK, `codat-sync-for-expenses`
9.0.0 (module `codat_sync_for_expenses`), over real HTTP on each platform, with every request and
every response it exchanged checked against Codat-Sync-Expenses.json.

create expense transactions → the sync completes → transaction results → an attachment → an
update where the platform allows it (422 where not); a transfer and a reimbursable where allowed,
refused where not; an adjustment refused everywhere (spec: QuickBooks Desktop only).
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import httpx
import pytest
import requests
from codat_sync_for_expenses import CodatSyncExpenses
from codat_sync_for_expenses.models import errors, shared
from django.db import connections

from tests.sandbox.conftest import NO_TAX
from tests.sandbox.expenses_spec import operation_for, request_problems, response_problems

AUTH = "Basic " + base64.b64encode(b"sandbox-api-key").decode()
UPDATES = {"gbol": True, "qhyg": True, "akxx": True, "trji": False}
TRANSFERS = {"gbol": True, "qhyg": True, "akxx": False, "trji": False}
REIMBURSABLES = {"gbol": False, "qhyg": True, "akxx": True, "trji": False}


class Recorder:
    """Every request the SDK sent and every response it received, through httpx's hooks."""

    def __init__(self) -> None:
        self.seen: list[httpx.Response] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        response.request.read()  # a multipart body is a stream: keep its bytes for the check
        self.seen.append(response)


@pytest.fixture
def _short_lived_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live server answers on threads; persistent connections there would keep the test
    database busy (PostgreSQL) after the test is over."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def _wait(sdk: CodatSyncExpenses, company_id: str, sync_id: str) -> Any:
    deadline = time.monotonic() + 20
    while True:
        status = sdk.sync.get(request={"company_id": company_id, "sync_id": sync_id})
        if status.sync_status_code != 1000 or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def _link(base: str, company_id: str, platform: str, sdk: CodatSyncExpenses) -> None:
    connection = sdk.connections.create(
        request={"company_id": company_id, "request_body": {"platform_key": platform}}
    )
    page = requests.get(connection.link_url, timeout=10)
    requests.post(
        connection.link_url,
        data={"csrfmiddlewaretoken": page.cookies["csrftoken"]},
        cookies=page.cookies,
        headers={"Referer": connection.link_url},
        timeout=10,
    ).raise_for_status()
    sdk.connections.create_partner_expense_connection(request={"company_id": company_id})


@pytest.mark.parametrize("platform", ["gbol", "qhyg", "akxx", "trji"])
@pytest.mark.usefixtures("_short_lived_connections")
def test_the_official_sdk_drives_the_expenses_flow(live_server: Any, platform: str) -> None:
    recorder = Recorder()
    base = live_server.url + "/codat-sandbox"
    sdk = CodatSyncExpenses(
        security=shared.Security(auth_header=AUTH),
        server_url=base,
        client=httpx.Client(event_hooks={"response": [recorder]}, timeout=30),
    )
    plain = {"Authorization": AUTH}

    company = sdk.companies.create(request={"name": f"Expenses SDK {platform}"})
    _link(base, company.id, platform, sdk)

    # Accounting data the Expenses document does not cover, read as the portal does.
    info = requests.get(f"{base}/companies/{company.id}/data/info", headers=plain, timeout=10)
    base_ccy = info.json()["baseCurrency"]
    accounts = requests.get(
        f"{base}/companies/{company.id}/data/accounts",
        params={"query": "isBankAccount=true", "pageSize": 100},
        headers=plain,
        timeout=10,
    ).json()["results"]
    card = next(a for a in accounts if a["currency"] == base_ccy and a["type"] == "Liability")
    current = next(a for a in accounts if a["currency"] == base_ccy and a["type"] == "Asset")
    suppliers = sdk.suppliers.list(
        request={"company_id": company.id, "query": "status=Active"}
    ).results
    customers = sdk.customers.list(request={"company_id": company.id}).results
    supplier = next(s for s in suppliers if s.default_currency in (None, base_ccy))

    saved = sdk.configuration.set(
        request={
            "company_id": company.id,
            "company_configuration": {
                "bank_account": {"id": card["id"]},
                "supplier": {"id": supplier.id},
                "customer": {"id": customers[0].id},
            },
        }
    )
    assert saved.bank_account.id == card["id"]

    # The company is on the newer generation once it writes through it; a client reading the
    # mapping options first sets it, as Codat does when a company moves to the Expenses product.
    requests.put(
        f"{base}/_sandbox/companies/{company.id}/api",
        json={"api": "expenses"},
        headers=plain,
        timeout=10,
    ).raise_for_status()
    options = sdk.mapping_options.get_mapping_options(request={"company_id": company.id})
    account = next(
        a
        for a in options.accounts or []
        if "expense-transactions.Payment" in (a.valid_for or []) and a.account_type == "Expense"
    )
    assert account.is_bank_account is False
    assert (
        any("transfer-transactions" in (a.valid_for or []) for a in options.accounts or [])
        == (TRANSFERS[platform])
    )
    tax = next(t for t in options.tax_rates or [] if t.id == NO_TAX[platform])

    tx_id = str(uuid.uuid4())
    created = sdk.expenses.create(
        request={
            "company_id": company.id,
            "request_body": [
                {
                    "id": tx_id,
                    "type": "Payment",
                    "issue_date": "2026-04-02T00:00:00Z",
                    "currency": base_ccy,
                    "bank_account_ref": {"id": card["id"]},
                    "merchant_name": "Pret A Manger",
                    "reference": "CARD-4590",
                    "lines": [
                        {
                            "net_amount": "12.50",
                            "account_ref": {"id": account.id},
                            "tax_rate_ref": {"id": tax.id},
                        }
                    ],
                }
            ],
        },
        http_headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    sync_id = created.sync_id
    status = _wait(sdk, company.id, sync_id)
    assert (status.sync_status_code, status.data_pushed) == (2000, True)

    listed = sdk.transaction_status.list(request={"company_id": company.id, "sync_id": sync_id})
    assert [(t.transaction_id, t.status) for t in listed.results or []] == [(tx_id, "Completed")]
    one = sdk.transaction_status.get(
        request={"company_id": company.id, "sync_id": sync_id, "transaction_id": tx_id}
    )
    assert one[0].status == "Completed"
    assert sdk.sync.get_latest_sync(request={"company_id": company.id}).sync_id == sync_id
    assert sdk.sync.get_last_successful_sync(request={"company_id": company.id}).sync_id == sync_id
    assert [s.sync_id for s in sdk.sync.list(request={"company_id": company.id})] == [sync_id]

    attachment = sdk.attachments.upload(
        request={
            "company_id": company.id,
            "sync_id": sync_id,
            "transaction_id": tx_id,
            "attachment_upload": {
                "file": {"file_name": "receipt.pdf", "content": b"%PDF-1.4 receipt"}
            },
        }
    )
    assert attachment.transaction_id == tx_id

    update = {
        "company_id": company.id,
        "transaction_id": tx_id,
        "update_expense_request": {
            "type": "Payment",
            "issue_date": "2026-04-03T00:00:00Z",
            "currency": base_ccy,
            "bank_account_ref": {"id": current["id"]},
            "notes": "Corrected",
        },
    }
    if UPDATES[platform]:
        updated = sdk.expenses.update(request=update)
        assert updated.sync_id != sync_id
        assert _wait(sdk, company.id, updated.sync_id).sync_status_code == 2000
    else:
        with pytest.raises(errors.ErrorMessage) as refused:
            sdk.expenses.update(request=update)
        assert refused.value.status_code == 422

    transfer = {
        "company_id": company.id,
        "transaction_id": str(uuid.uuid4()),
        "transfer_transaction_request": {
            "description": "Card top-up",
            "date": "2026-04-04T00:00:00Z",
            "from": {"account_ref": {"id": current["id"]}, "amount": "300"},
            "to": {"account_ref": {"id": card["id"]}, "amount": "300"},
        },
    }
    if TRANSFERS[platform]:
        moved = sdk.transfers.create(request=transfer)
        assert _wait(sdk, company.id, moved.sync_id).sync_status_code == 2000
    else:
        with pytest.raises(errors.ErrorMessage) as refused:
            sdk.transfers.create(request=transfer)
        assert refused.value.status_code == 400

    bill_id = str(uuid.uuid4())
    bill = {
        "id": bill_id,
        "reference": "Claims w/c 2026-03-30",
        "contact_ref": {"id": supplier.id},
        "issue_date": "2026-04-03",
        "due_date": "2026-04-30",
        "currency": base_ccy,
        "lines": [
            {
                "description": "Hotel",
                "net_amount": "140",
                "account_ref": {"id": account.id},
                "tax_rate_ref": {"id": tax.id},
            }
        ],
    }
    if REIMBURSABLES[platform]:
        claimed = sdk.reimbursements.create(
            request={"company_id": company.id, "request_body": [bill]}
        )
        assert _wait(sdk, company.id, claimed.sync_id).sync_status_code == 2000
        corrected = sdk.reimbursements.update(
            request={
                "company_id": company.id,
                "transaction_id": bill_id,
                "update_reimbursable_expense_transaction_request": {
                    k: v for k, v in {**bill, "due_date": "2026-05-15"}.items() if k != "id"
                },
            }
        )
        assert _wait(sdk, company.id, corrected.sync_id).sync_status_code == 2000
    else:
        with pytest.raises(errors.ErrorMessage) as refused:
            sdk.reimbursements.create(request={"company_id": company.id, "request_body": [bill]})
        assert refused.value.status_code == 400

    with pytest.raises(errors.ErrorMessage) as refused:
        sdk.adjustments.create(
            request={
                "company_id": company.id,
                "request_body": [
                    {
                        "id": str(uuid.uuid4()),
                        "date": "2026-04-05",
                        "currency": base_ccy,
                        "lines": [
                            {"amount": "10", "account_ref": {"id": account.id}},
                            {"amount": "-10", "account_ref": {"id": card["id"]}},
                        ],
                    }
                ],
            }
        )
    assert refused.value.status_code == 400

    ledger = requests.get(
        f"{base}/_sandbox/companies/{company.id}/ledger", headers=plain, timeout=10
    ).json()
    kinds = {r["transactionId"]: (r["kind"], r["attachments"], r["version"]) for r in ledger}
    assert kinds[tx_id] == ("expense", 1, 2 if UPDATES[platform] else 1)
    assert len([r for r in ledger if r["kind"] == "transfer"]) == int(TRANSFERS[platform])
    assert len([r for r in ledger if r["kind"] == "bill"]) == int(REIMBURSABLES[platform])

    # Every request the SDK sent, and every response it received, against the document.
    problems = []
    for response in recorder.seen:
        request = response.request
        problems += request_problems(
            request.method, str(request.url), dict(request.headers), request.content
        )
        problems += response_problems(
            request.method,
            str(request.url),
            response.status_code,
            response.json() if response.content else None,
        )
    assert problems == [], "\n".join(problems)
    covered = {(r.request.method, operation_for(str(r.request.url))) for r in recorder.seen}
    assert (
        "POST",
        "/companies/{companyId}/sync/expenses/expense-transactions",
    ) in covered
