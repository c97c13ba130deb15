"""Server time of the sync health dashboard at scale: 1,000,000 transaction results in
100,000 syncs of 1,000 companies (90 days of history), a backlog of approved expenses and
worker heartbeats.

The data is written in bulk (COPY on PostgreSQL, large `bulk_create` batches on SQLite) from a
fixed seed, so every run measures the same rows. The page is then fetched with Django's test
client as a staff user: a few warm-up requests, then the median of repeated runs. Writes
`dashboard_ms_p50`, `dashboard_queries`, `dashboard_rows` and `dashboard_syncs`.

`BENCH_DASHBOARD_ROWS` scales it down for a quick run (syncs are a tenth of the rows).
"""

from __future__ import annotations

import os
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bench._runtime import benchmark_database, record

ROWS = int(os.environ.get("BENCH_DASHBOARD_ROWS", "1000000"))
RESULTS_PER_SYNC = 10
COMPANIES = max(5, min(1000, ROWS // 1000))
BACKLOG = max(10, ROWS // 100)
DAYS = 90
RUNS = int(os.environ.get("BENCH_DASHBOARD_RUNS", "15"))
WARMUP = 3
SEED = 20261123
BATCH = 20_000

PLATFORMS = ["gbol", "qhyg", "akxx", "trji"]
# Codat's refusals as they arrive: the same problem with different ids, amounts and names.
FAILURES = [
    "Account {n} is not valid for transaction type Payment",
    "Account {n} is archived",
    "Account {uuid} does not exist",
    "Tax rate INPUT{n} is archived",
    "Supplier '{name}' does not exist",
    "The date 2026-{month:02}-{day:02} is before the period lock date",
    "Amount £{amount} exceeds the limit for the bank account",
    "Tracking category {uuid} is not valid for this account",
    "Currency rate is missing for EUR {amount}",
    "Customer '{name}' is archived",
]
NAMES = ["Acme Ltd", "Pret A Manger", "Uber BV", "Shell UK", "Trainline", "Costa", "Amazon EU"]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _message(rng: random.Random) -> str:
    return rng.choice(FAILURES).format(
        n=rng.randint(100, 9999),
        uuid=_uuid(rng),
        name=rng.choice(NAMES),
        month=rng.randint(1, 12),
        day=rng.randint(1, 28),
        amount=f"{rng.randint(1, 5000)}.{rng.randint(0, 99):02}",
    )


def _companies(rng: random.Random, now: datetime) -> list[int]:
    from companies.models import Company, CompanyStatus

    statuses = [CompanyStatus.READY] * 18 + [CompanyStatus.DISCONNECTED]
    companies = Company.objects.bulk_create(
        Company(
            name=f"Bench company {n:04}",
            codat_company_id=_uuid(rng),
            platform=PLATFORMS[n % len(PLATFORMS)],
            base_currency="GBP",
            status=rng.choice(statuses),
            master_data_refreshed_at=now - timedelta(hours=rng.randint(1, 24 * 14)),
        )
        for n in range(COMPANIES)
    )
    return [c.pk for c in companies]


def _syncs(
    rng: random.Random, now: datetime, company_ids: list[int], first_id: int
) -> Iterator[tuple[Any, ...]]:
    """Rows of `syncs_sync`, oldest first, with the outcome of each sync's results."""
    total = ROWS // RESULTS_PER_SYNC
    span = timedelta(days=DAYS).total_seconds()
    for n in range(total):
        requested = now - timedelta(seconds=span * (1 - n / total))
        company = company_ids[rng.randrange(len(company_ids))]
        sync_id = first_id + n
        if n >= total - 20:  # the newest few are still running; some are stuck
            code = 1010 if n % 2 else 1000
            yield (
                sync_id, company, _uuid(rng), "in_progress", code, "Running", requested,
                None, None, 0, 0,
            )  # fmt: skip
            continue
        failed = rng.random() < 0.08
        failures = rng.randint(1, RESULTS_PER_SYNC) if failed else 0
        completed = requested + timedelta(seconds=rng.randint(5, 300))
        yield (
            sync_id,
            company,
            _uuid(rng),
            "failed" if failed else "succeeded",
            4000 if failed else 2000,
            "Validation error" if failed else "Success",
            requested,
            completed,
            completed,
            RESULTS_PER_SYNC - failures,
            failures,
        )


def _results(rng: random.Random, syncs: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    from syncs.causes import normalise_cause

    for sync in syncs:
        sync_id, company_id, fetched, completed = sync[0], sync[1], sync[8], sync[9]
        if fetched is None:
            continue
        for k in range(RESULTS_PER_SYNC):
            if k < completed:
                yield sync_id, company_id, _uuid(rng), "Completed", "", "", fetched
            else:
                message = _message(rng)
                status = "ValidationError" if k % 3 else "PushError"
                cause = normalise_cause(message)
                yield sync_id, company_id, _uuid(rng), status, message, cause, fetched


SYNC_COLUMNS = (
    "id, company_id, codat_sync_id, state, status_code, status_text, requested_at, "
    "completed_at, results_fetched_at, transactions_completed, transactions_failed"
)
RESULT_COLUMNS = "sync_id, company_id, transaction_id, status, message, cause, fetched_at"


def _copy(table: str, columns: str, fixed: dict[str, Any], rows: Iterator[tuple[Any, ...]]) -> int:
    """COPY rows into a PostgreSQL table; `fixed` columns take one value for every row."""
    from django.db import connection

    names = columns + "".join(f", {name}" for name in fixed)
    extra = tuple(fixed.values())
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row + extra)
                count += 1
    return count


def _bulk(
    model: Any, fields: list[str], fixed: dict[str, Any], rows: Iterator[tuple[Any, ...]]
) -> int:
    count, chunk = 0, []
    for row in rows:
        chunk.append(model(**dict(zip(fields, row, strict=True)), **fixed))
        if len(chunk) >= BATCH:
            model.objects.bulk_create(chunk)
            count += len(chunk)
            chunk = []
    model.objects.bulk_create(chunk)
    return count + len(chunk)


def _backlog(rng: random.Random, now: datetime, company_ids: list[int]) -> None:
    from expenses.models import Expense, ExpenseStatus

    Expense.objects.bulk_create(
        (
            Expense(
                company_id=company_ids[rng.randrange(len(company_ids))],
                external_id=f"bench-{n}",
                type="Payment",
                issue_date=(now - timedelta(days=rng.randint(0, 20))).date(),
                currency="GBP",
                amount=Decimal(rng.randint(100, 50000)) / 100,
                merchant_name=rng.choice(NAMES),
                status=ExpenseStatus.APPROVED,
                status_changed_at=now - timedelta(minutes=rng.randint(1, 60 * 24 * 10)),
                approved_at=now - timedelta(minutes=rng.randint(1, 60 * 24 * 10)),
            )
            for n in range(BACKLOG)
        ),
        batch_size=BATCH,
    )


def _seed(vendor: str) -> tuple[int, int, float]:
    from django.db import connection, transaction
    from django.utils import timezone

    from syncs.models import Sync, SyncTransaction, WorkerHeartbeat

    rng = random.Random(SEED)
    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        company_ids = _companies(rng, now)
        syncs = list(_syncs(rng, now, company_ids, first_id=1))
        fixed_sync = {
            "kind": "push",
            "error_message": "",
            "exception_message": "",
            "is_long_running": False,
            "claiming": False,
            "configuration_snapshot": "{}",
            "expenses_api": "v1",
            "poll_count": 1,
        }
        fixed_result = {"integration_type": ""}
        if vendor == "postgresql":
            sync_count = _copy("syncs_sync", SYNC_COLUMNS, fixed_sync, iter(syncs))
            rows = _copy(
                "syncs_synctransaction", RESULT_COLUMNS, fixed_result, _results(rng, syncs)
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('syncs_sync', 'id'), %s)", [len(syncs)]
                )
        else:
            fixed_sync["configuration_snapshot"] = {}
            sync_fields = [c.strip() for c in SYNC_COLUMNS.split(",")]
            sync_count = _bulk(Sync, sync_fields, fixed_sync, iter(syncs))
            rows = _bulk(
                SyncTransaction,
                [c.strip() for c in RESULT_COLUMNS.split(",")],
                fixed_result,
                _results(rng, syncs),
            )
        _backlog(rng, now, company_ids)
        WorkerHeartbeat.objects.create(queue="portal", hostname="bench@1", last_seen_at=now)
        WorkerHeartbeat.objects.create(
            queue="sandbox", hostname="bench@2", last_seen_at=now - timedelta(minutes=10)
        )
    if vendor == "postgresql":
        # What autovacuum does to a table that has settled: statistics and the visibility map,
        # so the dashboard's covering index is read without visiting the table.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE syncs_sync")
            cursor.execute("VACUUM ANALYZE syncs_synctransaction")
            cursor.execute("ANALYZE")
    return sync_count, rows, time.perf_counter() - started


def run() -> dict[str, float]:
    with benchmark_database() as vendor:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django.urls import reverse

        sync_count, rows, seed_s = _seed(vendor)
        staff = get_user_model().objects.create_user(
            "bench-support", password="x", is_staff=True, is_superuser=True
        )
        client = Client()
        client.force_login(staff)
        url = reverse("dashboard")
        for _ in range(WARMUP):
            assert client.get(url).status_code == 200
        timings = []
        for _ in range(RUNS):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        p50 = statistics.median(timings)
        print(
            f"dashboard on {vendor}: {rows:,} results in {sync_count:,} syncs "
            f"({COMPANIES} companies) seeded in {seed_s:.1f} s; "
            f"p50 {p50:.1f} ms over {RUNS} runs, {len(captured)} queries"
        )
    figures = {
        "dashboard_ms_p50": round(p50, 1),
        "dashboard_queries": len(captured),
        "dashboard_rows": rows,
        "dashboard_syncs": sync_count,
    }
    record(figures)
    return figures


if __name__ == "__main__":
    print(run())
