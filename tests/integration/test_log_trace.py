"""One expense followed through the JSON logs by its id: ingested by the web process (gunicorn),
pushed, synced and written to the ledger by a real worker process, each line carrying the
request id, the task id, the company and the sync it belongs to; no key in any line."""

import json
import uuid
from decimal import Decimal

import pytest
import requests

from companies.platforms import Platform
from expenses.coding import LineInput, expense_set_lines
from expenses.ingest import ingest_token_create
from expenses.models import Expense, ExpenseStatus
from expenses.services import expense_approve
from sfe_portal.logs import log_context_scope
from syncs.models import Sync
from syncs.tasks import push_company
from tests.factories import UserFactory
from tests.integration.conftest import wait_for
from tests.integration.gunicorn_server import gunicorn
from tests.integration.sandbox_company import control, onboard

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox_env(live_server, settings, monkeypatch):
    from sandbox.models import SandboxSettings

    url = live_server.url + "/codat-sandbox"
    settings.CODAT_BASE_URL = url
    monkeypatch.setenv("CODAT_BASE_URL", url)
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    return url


def _json_lines(text):
    lines = []
    for raw in text.splitlines():
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
    return lines


def _about(lines, expense_id):
    return [
        line
        for line in lines
        if line.get("expense_id") == expense_id or expense_id in line.get("expense_ids", [])
    ]


def _code_and_approve(books, expense):
    account = next(
        a for a in books.accounts.values() if "Payment" in a.valid_transaction_types and a.is_usable
    )
    rate = next(t for t in books.tax_rates if t.is_usable and t.effective_rate == 0)
    expense_set_lines(
        expense=expense, lines=[LineInput(expense.amount, Decimal(0), account, rate)], by=None
    )
    expense_approve(expense=expense, by=UserFactory())


def test_one_expense_is_traced_from_ingest_to_ledger_across_web_and_worker(
    sandbox_env, celery_workers, monkeypatch, tmp_path
):
    monkeypatch.setenv("LOG_FORMAT", "json")
    books = onboard(Platform.XERO)
    _, key = ingest_token_create(name="card platform", company=books.company)
    ingest_request_id = f"ingest-{uuid.uuid4().hex}"

    with gunicorn({"LOG_FORMAT": "json"}, tmp_path / "web.log") as web:
        answer = requests.post(
            f"{web.url}/api/v1/companies/{books.company.pk}/expenses",
            json={
                "expenses": [
                    {
                        "external_id": "card-txn-1",
                        "type": "Payment",
                        "issue_date": "2026-11-02",
                        "currency": books.company.base_currency,
                        "amount": "12.00",
                        "merchant_name": "Harbour Coffee",
                    }
                ]
            },
            headers={"Authorization": f"Bearer {key}", "X-Request-ID": ingest_request_id},
            timeout=30,
        )
        assert answer.status_code == 200, web.log()
        assert answer.headers["X-Request-ID"] == ingest_request_id
    expense_id = answer.json()["results"][0]["id"]
    expense = Expense.objects.get(pk=expense_id)
    _code_and_approve(books, expense)

    worker = celery_workers()
    push_request_id = f"push-{uuid.uuid4().hex}"
    with log_context_scope(request_id=push_request_id, user="finance"):
        push_company.apply_async((books.company.pk,), queue=worker.queue)
    wait_for(
        lambda: Expense.objects.get(pk=expense_id).status == ExpenseStatus.SYNCED,
        timeout=120,
        what="the expense to be synced",
        worker=worker,
    )
    ledger = control("GET", f"companies/{books.company.codat_company_id}/ledger").json()
    assert [r["transactionId"] for r in ledger] == [expense_id]
    sync = Sync.objects.get(company=books.company)

    web_lines = _about(_json_lines(web.log()), expense_id)
    worker_lines = _about(_json_lines(worker.log()), expense_id)

    [ingested] = [line for line in web_lines if "ingested" in line["message"]]
    assert ingested["request_id"] == ingest_request_id
    assert ingested["company_id"] == books.company.pk
    assert ingested["logger"] == "expenses.api"

    [posted] = [line for line in worker_lines if "posted" in line["message"]]
    [ledgered] = [line for line in worker_lines if "written to the ledger" in line["message"]]
    for line in (posted, ledgered):
        assert line["sync_id"] == sync.pk
        assert line["company_id"] == books.company.pk
        assert line["task_id"]
        # The context of whoever queued the push travels with the task and its follow-ups.
        assert line["request_id"] == push_request_id
        assert line["user"] == "finance"
    assert posted["task"] in {"syncs.push_company", "syncs.send_batches"}
    assert ledgered["task"] == "syncs.poll_sync"
    assert ledgered["ts"] > posted["ts"] > ingested["ts"]
    assert ledgered["process"] != ingested["process"]

    # No key reaches a log, whichever process wrote it.
    for text in (web.log(), worker.log()):
        assert key not in text
        assert "sandbox-api-key" not in text
