"""Throughput of the sandbox's sync engine alone: transactions validated and written per second.

A Xero company is created, linked and configured through the sandbox's services; datasets of 50
valid multi-line expenses are queued in syncs of 1,000 transactions, and `process_due_syncs` is
timed as it validates and writes them all. Prints the figure and writes `sandbox_tx_per_s`.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta
from typing import Any

from bench._runtime import benchmark_database, record

TRANSACTIONS = 20_000
PER_SYNC = 1_000


def _setup() -> tuple[Any, list[dict[str, Any]]]:
    from django.utils import timezone

    from sandbox import services
    from sandbox.engine import load_master_data
    from sandbox.models import SandboxSettings

    now = timezone.now()
    SandboxSettings.objects.update_or_create(pk=1, defaults={"sync_delay_ms": 0})
    company = services.company_create(body={"name": "Bench Co"}, now=now)
    connection = services.connection_create(company=company, body={"platformKey": "gbol"}, now=now)
    services.connection_authorize(connection=connection, now=now)
    services.partner_expense_connection(company=company, now=now)
    data = load_master_data(company)
    bank = next(a for a in data.accounts.values() if a["isBankAccount"] and a["currency"] == "GBP")
    supplier = next(s for s in data.suppliers.values() if s["status"] == "Active")
    customer = next(c for c in data.customers.values() if c["status"] == "Active")
    services.config_save(
        company=company,
        body={
            "bankAccount": {"id": bank["id"]},
            "supplier": {"id": supplier["id"]},
            "customer": {"id": customer["id"]},
        },
    )
    expense_accounts = [
        a["id"]
        for a in data.accounts.values()
        if a["type"] == "Expense" and a["status"] == "Active"
    ]
    options = [t["id"] for t in data.tracking.values() if t["parentId"] and t["status"] == "Active"]
    rng = random.Random(7)
    items = []
    for _ in range(TRANSACTIONS):
        lines = [
            {
                "netAmount": round(rng.uniform(1, 500), 2),
                "taxAmount": 0,
                "accountRef": {"id": rng.choice(expense_accounts)},
                "taxRateRef": {"id": rng.choice(["INPUT2", "NONE", "ZERORATEDINPUT"])},
                "trackingRefs": [{"id": rng.choice(options)}],
            }
            for _ in range(rng.randint(1, 3))
        ]
        items.append(
            {
                "id": str(uuid.uuid4()),
                "type": rng.choice(["Payment", "Payment", "Payment", "Refund"]),
                "issueDate": "2026-03-01T00:00:00Z",
                "currency": "GBP",
                "merchantName": "Bench merchant",
                "lines": lines,
            }
        )
    return company, items


def run() -> dict[str, float]:
    with benchmark_database() as vendor:
        from django.utils import timezone

        from sandbox import services
        from sandbox.engine import process_due_syncs
        from sandbox.models import SandboxSyncTransaction
        from sandbox.tasks import Dispatch

        Dispatch.enabled = False  # measure the engine, not a broker
        company, items = _setup()
        now = timezone.now()
        for start in range(0, len(items), PER_SYNC):
            chunk = items[start : start + PER_SYNC]
            dataset_ids = [
                str(
                    services.dataset_create(
                        company=company, body={"items": chunk[i : i + 50]}, now=now
                    ).id
                )
                for i in range(0, len(chunk), 50)
            ]
            services.sync_initiate(company=company, body={"datasetIds": dataset_ids}, now=now)

        started = time.perf_counter()
        processed = process_due_syncs(now=now + timedelta(seconds=1))
        elapsed = time.perf_counter() - started

        completed = SandboxSyncTransaction.objects.filter(status="Completed").count()
        assert processed == len(items) // PER_SYNC, processed
        assert completed == len(items), completed
        per_s = len(items) / elapsed
        print(
            f"sandbox engine on {vendor}: {len(items)} transactions in {elapsed:.2f} s "
            f"= {per_s:,.0f} tx/s"
        )
    figures = {"sandbox_tx_per_s": round(per_s, 1), "sandbox_transactions": len(items)}
    record(figures)
    return figures


if __name__ == "__main__":
    run()
