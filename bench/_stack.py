"""The running product a benchmark talks to: the app (with the embedded Codat sandbox) served by
gunicorn on a loopback port, a Celery worker on the sandbox's queue, and an onboarded company."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench._runtime import start_process, stop_process

PORT = int(os.environ.get("BENCH_PORT", "8140"))


@dataclass
class Stack:
    base_url: str
    codat_url: str
    logs: Path
    queue: str  # the portal's default queue in this run, for its web server and workers


def _wait_until_served(url: str, process: Any, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            requests.get(url, timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on {url} within 60 s")


# What a production worker runs with (docs/deploy.md): DEBUG off, so the ORM neither wraps nor
# keeps every query. The sandbox stays on: it is the Codat the benchmarks talk to (with the
# benchmark's own key and secret, configure_environment()).
PRODUCTION_WORKER = {
    "DEBUG": "false",
    "SANDBOX_ENABLED": "true",
    "SANDBOX_IN_PRODUCTION": "true",
    "SECRET_KEY": "bench-only-" + "0123456789abcdef" * 3,
    "ALLOWED_HOSTS": "127.0.0.1",
}


def celery_worker(queue: str, log: Path, **extra: str) -> Any:
    return start_process(
        [
            "-m",
            "celery",
            "-A",
            "sfe_portal",
            "worker",
            "--queues",
            queue,
            "--pool",
            "solo",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"bench-{queue}@%h",
        ],
        log,
        **extra,
    )


@contextmanager
def running_stack(logs: Path) -> Iterator[Stack]:
    """gunicorn and a sandbox worker on the benchmark database, stopped on the way out."""
    from django.conf import settings

    base = f"http://127.0.0.1:{PORT}"
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    codat = f"{base}/codat-sandbox"
    settings.CODAT_BASE_URL = codat
    web = start_process(
        [
            "-m",
            "gunicorn",
            "sfe_portal.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "2",
            "--threads",
            "4",
        ],
        logs / "web.log",
        CODAT_BASE_URL=codat,
        CELERY_DEFAULT_QUEUE=queue,
    )
    sandbox = celery_worker("sandbox", logs / "sandbox-worker.log", CODAT_BASE_URL=codat)
    try:
        _wait_until_served(f"{codat}/_sandbox/settings", web, logs / "web.log")
        yield Stack(base_url=base, codat_url=codat, logs=logs, queue=queue)
    finally:
        stop_process(sandbox)
        stop_process(web)


def onboard_company(stack: Stack, platform: str, name: str) -> Any:
    """A company linked to the sandbox, its master data pulled and its configuration saved,
    through the real onboarding services (the customer's clicks played in-process). The
    sandbox runs syncs at once and sends its signed webhooks to the portal, as Codat does."""
    from django.conf import settings

    from tests.integration.sandbox_company import control, onboard

    control(
        "PUT",
        "settings",
        {
            "sync_delay_ms": 0,
            "webhook_url": f"{stack.base_url}/webhooks/codat/",
            "webhook_secret": settings.CODAT_WEBHOOK_SECRET,
        },
    )
    return onboard(platform, name=name)
