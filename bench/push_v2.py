"""The push pipeline end to end in Codat's newer Expenses API, and the floor under it.

As `bench.push`, for a Xero company that speaks the newer generation: each batch of 50 is one
create-expense-transactions call under its `Idempotency-Key`, and each starts a sync of its own,
so 10,000 expenses are 200 syncs to follow. First the floor: a plain `requests` loop makes the
same calls for the same transactions (under fresh ids): the 200 keyed posts, then a status poll
of every sync still running once a second, and each ended sync's results in one page of 5,000;
`raw_push_v2_expenses_per_s` is N over its wall time and `raw_push_v2_api_calls` its calls.
Then the pipeline: one `syncs.push_company` task to a real Celery worker process, timed until
every expense is settled; `push_v2_api_calls` counts its CodatExchange rows.

`python -m bench push_v2` runs this module alone.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from bench._runtime import record
from bench.push import RAW_POLL_S, payloads, push_rounds, raw_session

GENERATION = "expenses"
SEED = 20
FIGURES = (
    "push_v2_expenses_per_s",
    "raw_push_v2_expenses_per_s",
    "push_v2_api_calls",
    "raw_push_v2_api_calls",
    "push_v2_expenses",
    "push_v2_runs",
)
RUNNING = (1000, 1010)


def raw_push_v2(
    codat_url: str, codat_company_id: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """The same Codat calls as the pipeline in a plain loop; returns its time and call count."""
    session, base = raw_session(codat_url, codat_company_id)
    calls = 0
    started = time.perf_counter()
    marks: dict[str, float] = {}
    running = []
    for start in range(0, len(items), 50):
        answer = session.post(
            f"{base}/expense-transactions",
            json=items[start : start + 50],
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        answer.raise_for_status()
        running.append(answer.json()["syncId"])
        calls += 1
    marks["batches sent"] = time.perf_counter() - started
    completed = 0
    while running:
        time.sleep(RAW_POLL_S)
        still = []
        for sync_id in running:
            status = session.get(f"{base}/syncs/{sync_id}/status")
            status.raise_for_status()
            calls += 1
            if status.json()["syncStatusCode"] in RUNNING:
                still.append(sync_id)
                continue
            # A sync holds at most 50: one page of results.
            answer = session.get(
                f"{base}/syncs/{sync_id}/transactions", params={"page": 1, "pageSize": 5000}
            )
            answer.raise_for_status()
            calls += 1
            completed += sum(1 for r in answer.json()["results"] if r.get("status") == "Completed")
        running = still
    elapsed = time.perf_counter() - started
    marks["results read"] = elapsed
    print("  raw loop: " + ", ".join(f"{name} {at:.2f} s" for name, at in marks.items()))
    if completed != len(items):
        raise RuntimeError(f"the raw loop's syncs completed {completed} of {len(items)}")
    return {"elapsed": elapsed, "calls": calls}


def run() -> dict[str, float]:
    # Every process of the run (this one, the web server with the sandbox, the workers) makes
    # new companies in the newer generation.
    os.environ["CODAT_EXPENSES_API_DEFAULT"] = GENERATION
    figures = push_rounds(seed=SEED, raw_loop=raw_push_v2, payloads=payloads).figures("push_v2")
    record(figures)
    return figures


if __name__ == "__main__":
    run()
