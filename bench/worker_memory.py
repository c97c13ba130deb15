"""`worker_peak_rss_mb`: the resident memory of the portal's Celery worker process (and any
children) at its peak while it pushes 50,000 approved expenses end to end against the sandbox,
sampled from /proc every 50 ms. Set-up and pipeline as in `bench.push`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench._runtime import benchmark_database, record

EXPENSES = int(os.environ.get("BENCH_MEMORY_EXPENSES", "50000"))
SEED = 11
FIGURES = ("worker_peak_rss_mb", "worker_memory_expenses")


def run() -> dict[str, float]:
    from bench._stack import running_stack
    from bench.push import pipeline_push, prepared_company

    with (
        benchmark_database(),
        tempfile.TemporaryDirectory() as folder,
        running_stack(Path(folder)) as stack,
    ):
        company = prepared_company(stack, EXPENSES, SEED)
        pushed = pipeline_push(company, stack)
    figures = {
        "worker_peak_rss_mb": round(pushed["peak_rss_mb"], 1),
        "worker_memory_expenses": EXPENSES,
        "worker_memory_push_s": round(pushed["elapsed"], 1),
    }
    print(f"worker peak RSS while pushing {EXPENSES}: {figures['worker_peak_rss_mb']} MB")
    record(figures)
    return figures


if __name__ == "__main__":
    run()
