"""The push pipeline end to end, and the floor under it.

A Xero company is onboarded against the sandbox (gunicorn, a sandbox worker, sync_delay_ms 0),
then N approved, valid expenses are COPYed in. First the floor: a plain `requests` loop makes
the calls the pipeline makes for the same transactions (under fresh ids, so the sandbox's
duplicate protection does not interfere) — datasets of 50, one initiate, status polls, result
pages of 5,000 — and `raw_push_expenses_per_s` is N over its wall time. Then the pipeline: one
`syncs.push_company` task to a real Celery worker process, timed until every expense is settled;
`push_api_calls` counts its CodatExchange rows. The worker's resident memory (with any children)
is sampled throughout: `worker_peak_rss_mb` comes from `bench.worker_memory` at 50,000 expenses.
"""

from __future__ import annotations

import base64
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench._runtime import benchmark_database, record
from bench._stack import Stack

EXPENSES = int(os.environ.get("BENCH_PUSH_EXPENSES", "10000"))
# Rounds of both loops after one round of warm-up: each figure is the median of its rounds.
RUNS = int(os.environ.get("BENCH_PUSH_RUNS", "5"))
WARMUP = 1
SEED = 10
RAW_POLL_S = 1.0
FIGURES = (
    "push_expenses_per_s",
    "raw_push_expenses_per_s",
    "push_api_calls",
    "push_expenses",
    "push_runs",
)


def _rss_kb(pid: int) -> int:
    """Resident memory of a process and its descendants, from /proc."""
    total = 0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            for child in children.read().split():
                total += _rss_kb(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak_kb = max(self.peak_kb, _rss_kb(self.pid))
            self.stopped.wait(0.05)


def payloads(company: Any) -> list[dict[str, Any]]:
    """The transactions the pipeline will send (the approved expenses), as Codat JSON in the
    shape of the generation the company speaks, under fresh ids."""
    from companies.models import Company
    from expenses.ledger import expense_item
    from expenses.models import Expense, ExpenseStatus
    from expenses.validation import company_context

    ctx = company_context(company=Company.objects.get(pk=company.pk))
    items = []
    for expense in (
        Expense.objects.filter(company=company, status=ExpenseStatus.APPROVED)
        .prefetch_related("lines__account", "lines__tax_rate", "lines__tracking_categories")
        .order_by("issue_date", "id")
    ):
        body = expense_item(expense=expense, lines=list(expense.lines.all()), ctx=ctx)
        body["id"] = str(uuid.uuid4())
        items.append(body)
    return items


def _print_sandbox_sync(sync_id: str, started_at: Any, marks: dict[str, float]) -> None:
    """The raw loop's own marks and when the sandbox started its sync, in seconds from its
    start. (The sandbox stamps a sync's end with the time it started: its clock is the one the
    task began with.)"""
    from sandbox.models import SandboxSync
    from syncs.models import WebhookEvent

    sync = SandboxSync.objects.get(pk=sync_id)
    if sync.started_at is not None:
        marks["sync started"] = (sync.started_at - started_at).total_seconds()
    # When the sandbox said the sync had ended (its webhook, as the portal received it).
    for received in WebhookEvent.objects.filter(codat_sync_id=sync_id).values_list(
        "received_at", flat=True
    ):
        marks["webhook received"] = (received - started_at).total_seconds()
    print(
        "  raw loop: "
        + ", ".join(f"{n} {t:.2f} s" for n, t in sorted(marks.items(), key=lambda m: m[1]))
    )


def raw_session(codat_url: str, codat_company_id: str) -> tuple[requests.Session, str]:
    """A plain session with the run's Codat key, and the base URL of the company's expenses."""
    from django.conf import settings

    session = requests.Session()
    session.headers["Authorization"] = (
        "Basic " + base64.b64encode(settings.CODAT_API_KEY.encode()).decode()
    )
    return session, f"{codat_url}/companies/{codat_company_id}/sync/expenses"


def raw_push(codat_url: str, codat_company_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The same Codat calls as the pipeline in a plain loop; returns its time and call count."""
    from django.utils import timezone

    session, base = raw_session(codat_url, codat_company_id)
    calls = 0
    started_at = timezone.now()
    started = time.perf_counter()
    marks: dict[str, float] = {}
    dataset_ids = []
    for start in range(0, len(items), 50):
        answer = session.post(
            f"{base}/data/expense-transactions", json={"items": items[start : start + 50]}
        )
        answer.raise_for_status()
        dataset_ids.append(answer.json()["datasetId"])
        calls += 1
    marks["datasets posted"] = time.perf_counter() - started
    answer = session.post(f"{base}/syncs", json={"datasetIds": dataset_ids})
    answer.raise_for_status()
    sync_id = answer.json()["syncId"]
    calls += 1
    while True:
        time.sleep(RAW_POLL_S)
        status = session.get(f"{base}/syncs/{sync_id}/status")
        status.raise_for_status()
        calls += 1
        if status.json()["syncStatusCode"] not in (1000, 1010):
            break
    marks["end seen"] = time.perf_counter() - started
    results: list[Any] = []
    page = 1
    while True:
        answer = session.get(
            f"{base}/syncs/{sync_id}/transactions", params={"page": page, "pageSize": 5000}
        )
        answer.raise_for_status()
        calls += 1
        body = answer.json()
        results.extend(body["results"])
        if page * 5000 >= body["totalResults"]:
            break
        page += 1
    elapsed = time.perf_counter() - started
    marks["results read"] = elapsed
    _print_sandbox_sync(sync_id, started_at, marks)
    completed = sum(1 for r in results if r.get("status") == "Completed")
    if completed != len(items):
        raise RuntimeError(f"the raw loop's sync completed {completed} of {len(items)}")
    return {"elapsed": elapsed, "calls": calls}


def pipeline_push(company: Any, stack: Stack) -> dict[str, Any]:
    """Push the company through a real worker; time it until every expense has settled."""
    from django.utils import timezone

    from bench._stack import PRODUCTION_WORKER, celery_worker
    from expenses.models import Expense, ExpenseStatus
    from gateway.models import CodatExchange
    from syncs.tasks import push_company

    logs, queue = stack.logs, stack.queue
    worker = celery_worker(
        queue,
        logs / "portal-worker.log",
        CELERY_DEFAULT_QUEUE=queue,
        CODAT_BASE_URL=stack.codat_url,
        **PRODUCTION_WORKER,
    )
    sampler = RssSampler(worker.pid)
    try:
        time.sleep(3)  # the worker connects to the broker; not part of the push
        if worker.poll() is not None:
            raise RuntimeError((logs / "portal-worker.log").read_text(errors="replace")[-3000:])
        exchanges_before = CodatExchange.objects.filter(company=company).count()
        total = Expense.objects.filter(company=company).count()
        sampler.start()
        started_at = timezone.now()
        started = time.perf_counter()
        push_company.apply_async((company.pk,), queue=queue)
        settled = (ExpenseStatus.SYNCED, ExpenseStatus.FAILED)
        deadline = time.monotonic() + 1800
        while Expense.objects.filter(company=company, status__in=settled).count() < total:
            if worker.poll() is not None:
                log = (logs / "portal-worker.log").read_text(errors="replace")
                raise RuntimeError(f"the worker exited:\n{log[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("the push did not settle within 30 minutes")
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
    finally:
        sampler.stopped.set()
        from bench._runtime import stop_process

        stop_process(worker)
    synced = Expense.objects.filter(company=company, status=ExpenseStatus.SYNCED).count()
    if synced != total:
        raise RuntimeError(f"{total - synced} of {total} expenses did not sync")
    calls = CodatExchange.objects.filter(company=company).count() - exchanges_before
    _print_timeline(company, exchanges_before, started_at, elapsed)
    return {"elapsed": elapsed, "calls": calls, "peak_rss_mb": sampler.peak_kb / 1024}


def _print_timeline(company: Any, skip: int, started_at: Any, elapsed: float) -> None:
    """When each kind of Codat call first and last happened, in seconds from the push, with
    when the sandbox started its syncs and when their webhooks came in."""
    from gateway.models import CodatExchange
    from reliability.runs import call_kind

    spans: dict[str, list[float]] = {}
    for method, path, at in (
        CodatExchange.objects.filter(company=company)
        .order_by("created_at", "id")
        .values_list("method", "path", "created_at")[skip:]
    ):
        spans.setdefault(f"{method} {call_kind(path)}", []).append(
            (at - started_at).total_seconds()
        )
    from sandbox.models import SandboxSync
    from syncs.models import WebhookEvent

    for began in SandboxSync.objects.filter(created__gte=started_at).values_list(
        "started_at", flat=True
    ):
        if began is not None:
            spans.setdefault("sandbox sync started", []).append(
                (began - started_at).total_seconds()
            )
    # The sandbox's word that a sync ended, as the portal received it.
    for received in WebhookEvent.objects.filter(received_at__gte=started_at).values_list(
        "received_at", flat=True
    ):
        spans.setdefault("webhook received", []).append((received - started_at).total_seconds())
    for kind, times in spans.items():
        print(f"  {kind:<48} x{len(times):<4} {min(times):7.2f} s .. {max(times):7.2f} s")
    print(f"  settled at {elapsed:.2f} s")


def prepared_company(stack: Stack, count: int, seed: int) -> Any:
    """Onboard inside a running stack and COPY `count` approved expenses for the company."""
    from bench._data import insert_expenses
    from bench._stack import onboard_company
    from tests.integration.sandbox_company import control

    books = onboard_company(stack, "gbol", "Push Bench Ltd")
    # Codat's own limit is not what is measured: both loops run unthrottled.
    control("PUT", "settings", {"rate_limit_per_minute": 10_000_000})
    insert_expenses(company=books.company, statuses=[("approved", 1.0)], count=count, seed=seed)
    return books.company


@dataclass
class Rounds:
    """Each loop's measured rounds (the warm-up left out), and their medians in seconds."""

    raws: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def raw_s(self) -> float:
        return statistics.median(r["elapsed"] for r in self.raws)

    @property
    def pipeline_s(self) -> float:
        return statistics.median(p["elapsed"] for p in self.pushes)

    def figures(self, name: str) -> dict[str, float]:
        """The figures of the rounds under `name` (`push`: `push_expenses_per_s`,
        `raw_push_expenses_per_s`, `push_api_calls`, …), printed in one line."""
        pipeline_s, raw_s = self.pipeline_s, self.raw_s
        figures = {
            f"{name}_expenses": EXPENSES,
            f"{name}_runs": RUNS,
            f"{name}_expenses_per_s": round(EXPENSES / pipeline_s, 1),
            f"{name}_api_calls": max(p["calls"] for p in self.pushes),
            f"raw_{name}_expenses_per_s": round(EXPENSES / raw_s, 1),
            f"raw_{name}_api_calls": max(r["calls"] for r in self.raws),
        }
        print(
            f"{name} of {EXPENSES}, median of {RUNS} rounds: pipeline {pipeline_s:.2f} s, "
            f"raw loop {raw_s:.2f} s ({raw_s / pipeline_s:.2f} x raw); calls "
            f"{figures[f'{name}_api_calls']} against {figures[f'raw_{name}_api_calls']}"
        )
        return figures


RawLoop = Callable[[str, str, list[dict[str, Any]]], dict[str, Any]]
Payloads = Callable[[Any], list[dict[str, Any]]]


def push_rounds(*, seed: int, raw_loop: RawLoop, payloads: Payloads) -> Rounds:
    """A company onboarded in a running stack, then a warm-up and `RUNS` rounds, each pushing
    `EXPENSES` approved expenses of its own through `raw_loop` (the items `payloads` makes of
    them, under fresh ids) and then through the pipeline."""
    from bench._data import insert_expenses
    from bench._stack import running_stack

    rounds = Rounds()
    with benchmark_database(), tempfile.TemporaryDirectory() as folder:
        logs = Path(folder)
        with running_stack(logs) as stack:
            company = prepared_company(stack, EXPENSES, seed)
            for round_ in range(WARMUP + RUNS):
                if round_:
                    # Each round pushes expenses of its own; the earlier rounds' stay synced.
                    insert_expenses(
                        company=company,
                        statuses=[("approved", 1.0)],
                        count=EXPENSES,
                        seed=seed + round_,
                    )
                raw = raw_loop(stack.codat_url, str(company.codat_company_id), payloads(company))
                pushed = pipeline_push(company, stack)
                label = "warm-up" if round_ < WARMUP else f"round {round_ - WARMUP + 1}"
                print(
                    f"{label}: pipeline {pushed['elapsed']:.2f} s, {pushed['calls']} calls; "
                    f"raw loop {raw['elapsed']:.2f} s, {raw['calls']} calls; "
                    f"{raw['elapsed'] / pushed['elapsed']:.2f} x raw"
                )
                if round_ >= WARMUP:
                    rounds.raws.append(raw)
                    rounds.pushes.append(pushed)
    return rounds


def run() -> dict[str, float]:
    rounds = push_rounds(seed=SEED, raw_loop=raw_push, payloads=payloads)
    figures = rounds.figures("push")
    figures["push_worker_peak_rss_mb"] = round(max(p["peak_rss_mb"] for p in rounds.pushes), 1)
    record(figures)
    return figures


if __name__ == "__main__":
    run()
