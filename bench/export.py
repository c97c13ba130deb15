"""The queue download at 200,000 expenses: rows per second and the peak memory of the process
that serves it.

A company with a Payment account and a zero tax rate is made directly (the download reads no
Codat data, so no sandbox is needed), then 200,000 expenses are COPYed in (`bench._data`) and
each coded one gets its account and tax rate. Each download runs in a process of its own, as
a web worker would serve it: the test Client as a viewer of the company requests the All tab
and reads the streamed body to the end, writing nothing. The process reports the rows, the
time from request to last byte, and its peak resident memory (VmHWM from /proc, which counts
the interpreter and Django too: compare it with `export_baseline_rss_mb`, the same process's
peak before the request).

Figures: `export_rows_per_s` and `export_peak_rss_mb` (CSV), `export_xlsx_rows_per_s` and
`export_xlsx_peak_rss_mb`, `export_baseline_rss_mb`, `export_rows`.
`BENCH_EXPORT_ROWS` sets a smaller scale.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from bench._runtime import ROOT, benchmark_database, child_env, record
from bench.queue import STATUSES  # the same mix as the queue's benchmark

ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "200000"))
SEED = 13
FIGURES = (
    "export_rows_per_s",
    "export_peak_rss_mb",
    "export_xlsx_rows_per_s",
    "export_xlsx_peak_rss_mb",
    "export_baseline_rss_mb",
    "export_rows",
)


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def download(company_id: int, user_id: int, file_format: str) -> dict[str, Any]:
    """In the child process: one download, read to its last byte."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(get_user_model().objects.get(pk=user_id))
    url = reverse("expense-export", args=[company_id, file_format]) + "?tab=all"
    baseline = _peak_rss_mb()
    started = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    size = 0
    lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "bytes": size,
        "lines": lines,
        "peak_rss_mb": _peak_rss_mb(),
        "baseline_rss_mb": baseline,
    }


def _in_child(company_id: int, user_id: int, file_format: str) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.export", str(company_id), str(user_id), file_format]
    done = subprocess.run(args, cwd=ROOT, env=child_env(), capture_output=True, check=True)
    return dict(json.loads(done.stdout.decode().strip().splitlines()[-1]))


def _company() -> tuple[Any, Any]:
    from companies.models import Membership, Role
    from tests.factories import CompanyFactory, LedgerAccountFactory, TaxRateFactory, UserFactory

    company = CompanyFactory(name="Export Bench Ltd")
    LedgerAccountFactory(company=company, name="Travel", valid_transaction_types=["Payment"])
    TaxRateFactory(company=company, name="No VAT", effective_rate=0, total_rate=0)
    user = UserFactory(username="bench-viewer")
    Membership.objects.create(user=user, company=company, role=Role.VIEWER)
    return company, user


def run() -> dict[str, float]:
    with benchmark_database():
        from bench._data import insert_expenses

        company, user = _company()
        written = insert_expenses(company=company, statuses=STATUSES, count=ROWS, seed=SEED)
        as_csv = _in_child(company.pk, user.pk, "csv")
        as_xlsx = _in_child(company.pk, user.pk, "xlsx")
    if as_csv["lines"] != written + 1:
        raise RuntimeError(f"the CSV has {as_csv['lines']} lines for {written} expenses")
    figures = {
        "export_rows_per_s": round(written / as_csv["elapsed"]),
        "export_peak_rss_mb": round(as_csv["peak_rss_mb"], 1),
        "export_xlsx_rows_per_s": round(written / as_xlsx["elapsed"]),
        "export_xlsx_peak_rss_mb": round(as_xlsx["peak_rss_mb"], 1),
        "export_baseline_rss_mb": round(as_csv["baseline_rss_mb"], 1),
        "export_rows": written,
    }
    print(
        f"export of {written}: CSV {figures['export_rows_per_s']} rows/s, "
        f"peak {figures['export_peak_rss_mb']} MB (before the request "
        f"{figures['export_baseline_rss_mb']} MB); XLSX {figures['export_xlsx_rows_per_s']} "
        f"rows/s, peak {figures['export_xlsx_peak_rss_mb']} MB"
    )
    record(figures)
    return figures


if __name__ == "__main__":
    if len(sys.argv) == 4:
        print(json.dumps(download(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])))
    else:
        run()
