"""The soak: thousands of expenses pushed while the sandbox injects 5xx, 429s, latency and
timeouts, the portal's worker is SIGKILLed and restarted twice and the broker (a private
Redis without persistence) is restarted once. Afterwards every expense must be synced or
failed with a reason, and the sandbox ledger must hold each synced expense exactly once.

The pushing company speaks the generation of Codat's expenses API the run names: v1 (a dataset
per batch, one sync for the push) or the newer Expenses API (a keyed call per batch, each
starting a sync of its own: the push is followed as 200 syncs)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from reliability.runs import (
    Sweeper,
    codat_call_figures,
    codat_calls_by_kind,
    django_for,
    wait_until,
)
from reliability.stack import Config, Stack

logger = logging.getLogger("reliability")

FAULTS = {
    "error_rate": 0.2,  # one call in five answers 503
    "error_status": 503,
    "rate_limit_every": 10,  # every tenth call answers 429 with Retry-After
    "retry_after_s": 1,
    "latency_ms": 30,
    "timeout_rate": 0.02,  # some calls stall past the client's timeout
    "timeout_stall_ms": 6000,
}


@dataclass
class SoakOptions:
    expenses: int = 10_000
    kills: int = 2
    redis_restarts: int = 1
    timeout_s: float = 3600.0
    locked_every: int = 50
    generation: str = "v1"


def run(options: SoakOptions) -> bool:
    config = Config(
        scenario="soak" if options.generation == "v1" else f"soak-{options.generation}",
        database="sfe_soak_run",
        codat_timeout_s=5.0,
        expenses_api=options.generation,
    )
    stack = Stack(config, portal_web=False)
    stack.prepare()
    django_for(config)
    stack.start()
    try:
        return _soak(stack, options)
    finally:
        stack.stop()
        print(f"logs: {config.var_dir}")


def _soak(stack: Stack, options: SoakOptions) -> bool:
    from companies.platforms import Platform
    from reliability.audit import company_audit, company_unsettled
    from reliability.seed import company_linked, expenses_bulk, sandbox_control
    from syncs.models import BatchState, PushBatch, Sync, SyncState
    from syncs.tasks import push_company

    config = stack.config
    sandbox_control(
        "PUT",
        "settings",
        {
            "sync_delay_ms": 0,
            "rate_limit_per_minute": 100_000,
            # The sandbox's gunicorn serves the portal's webhook endpoint too (one app).
            "webhook_url": f"http://127.0.0.1:{config.ports.sandbox}/webhooks/codat/",
        },
    )
    company = company_linked(name="Soak Harbour Ltd", platform=Platform.XERO)
    if company.expenses_api != options.generation:
        raise RuntimeError(
            f"the company speaks {company.expenses_api}, not {options.generation}: "
            "CODAT_EXPENSES_API_DEFAULT did not reach the run"
        )
    print(f"generation: {options.generation}")
    started = time.monotonic()
    expenses_bulk(
        company=company,
        count=options.expenses,
        approver=None,
        locked_every=options.locked_every,
        prefix="soak",
    )
    print(f"seeded {options.expenses} approved expenses in {time.monotonic() - started:.1f}s")
    sandbox_control("PUT", "faults", FAULTS)
    # Production sweeps every minute with 2 and 15 minute thresholds; here every 10 s with 30 s
    # and 130 s, still above the 2 minutes an initiate call may be in flight (syncs/initiate.py).
    # A push is quiet when no batch of the company was sent for that long, however many of its
    # syncs wait (the newer generation's are a sync per batch: `syncs.selectors.quiet_pushes`).
    sweeper = Sweeper(every_s=10, stale_poll_s=30, stale_initiating_s=130)
    push_started = time.monotonic()
    push_company.delay(company.pk)

    batches = PushBatch.objects.filter(company=company)

    def posted_share() -> float:
        """The share of batches sent: a dataset posted (v1), or a sync started (newer)."""
        total = batches.count()
        return batches.exclude(state=BatchState.PENDING).count() / total if total else 0.0

    def all_started() -> bool:
        """The push's sync started (v1), or every batch's sync (newer)."""
        syncs = Sync.objects.filter(company=company)
        return syncs.exists() and not syncs.filter(state=SyncState.INITIATING).exists()

    def left() -> float:
        """What remains of the run's bound on the whole push."""
        return max(1.0, options.timeout_s - (time.monotonic() - push_started))

    def tick() -> None:
        sweeper.tick(time.monotonic())
        if not stack.portal_worker.alive():
            raise RuntimeError("the portal worker exited on its own; see its log")

    events: list[tuple[str, float]] = []

    def event(what: str) -> None:
        events.append((what, time.monotonic() - push_started))
        print(f"{events[-1][1]:7.1f}s  {what} (batches sent {posted_share():.0%})", flush=True)

    def kill_and_restart_worker() -> None:
        stack.portal_worker.kill()
        event(f"portal worker SIGKILLed (#{stack.portal_worker.starts})")
        time.sleep(2)
        stack.portal_worker.start()

    # The worker dies while batches are sent and again the moment every sync has started, while
    # results are read (v1: the push's one sync; newer: the syncs of the batches sent before);
    # the broker restarts in between.
    if options.kills >= 1:
        wait_until(
            lambda: posted_share() >= 0.3,
            timeout_s=left(),
            what="30% of the batches sent",
            tick=tick,
        )
        kill_and_restart_worker()
    if options.redis_restarts:
        wait_until(
            lambda: posted_share() >= 0.6,
            timeout_s=left(),
            what="60% of the batches sent",
            tick=tick,
        )
        stack.redis.restart()
        event("private Redis restarted (queued messages lost)")
    if options.kills >= 2:
        wait_until(all_started, timeout_s=left(), what="every sync to be started", tick=tick)
        kill_and_restart_worker()

    waited = wait_until(
        lambda: company_unsettled(company=company) == 0,
        timeout_s=left(),
        what="every expense to be synced or failed",
        tick=tick,
    )
    elapsed = time.monotonic() - push_started
    sandbox_control("DELETE", "faults")
    audit = company_audit(company=company)
    calls = codat_call_figures()
    print(
        f"\nsoak: {options.expenses} expenses settled {elapsed:.0f}s after the push "
        f"({waited:.0f}s after the last fault event)"
    )
    for what, at in events:
        print(f"  {what} at {at:.0f}s")
    print(f"  sweeps sent {sweeper.sent}, not sent while the broker was down {sweeper.refused}")
    print(
        f"  syncs {Sync.objects.filter(company=company).count()}, batches sent "
        f"{batches.exclude(state__in=[BatchState.PENDING, BatchState.ABANDONED]).count()} "
        f"of {batches.count()}"
    )
    for name, value in calls.items():
        print(f"  {name}: {value}")
    print("  codat calls by path:")
    for kind, count in codat_calls_by_kind().items():
        print(f"    {count:6d}  {kind}")
    for line in audit.lines():
        print(f"  {line}")
    print("PASS" if audit.ok else "FAIL")
    return audit.ok
