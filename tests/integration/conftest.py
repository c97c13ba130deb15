"""A real Celery worker process on the configured broker, sharing the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _database_env() -> dict[str, str]:
    """Point a child process at the database this test runs on."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return {"SQLITE_PATH": str(db["NAME"]), "DATABASE_URL": ""}
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return {"DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"}


@dataclass
class WorkerProcess:
    queue: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(
    condition: Callable[[], Any], *, timeout: float, what: str, worker: WorkerProcess
) -> Any:
    """Poll `condition` until it is truthy: the worker is another process, so we must wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited ({worker.process.returncode}):\n{worker.log()}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; worker log:\n{worker.log()}")


def sweeping(
    queue: str, *, every_s: float = 2.0, stale_poll_s: float = 2.0, stale_initiating_s: float = 4.0
) -> Callable[[], None]:
    """What beat does in production (`syncs.sweep` every minute, thresholds of minutes), with
    seconds instead: call the result from a `wait_for` condition, and it sends the sweep to
    `queue` at most every `every_s` seconds."""
    from syncs.tasks import sweep

    last = [float("-inf")]

    def tick() -> None:
        if time.monotonic() - last[0] >= every_s:
            last[0] = time.monotonic()
            sweep.apply_async(
                kwargs={"stale_poll_s": stale_poll_s, "stale_initiating_s": stale_initiating_s},
                queue=queue,
            )

    return tick


def start_worker(queue: str, log_path: Path, *, name: str = "") -> WorkerProcess:
    """A real worker process consuming `queue` on the configured broker and test database,
    named after the queue (and `name`): a worker started again under the same name is the
    same worker restarted."""
    # Tasks the worker sends (a poll after a push) stay on this test's own queue.
    env = {
        **os.environ,
        **_database_env(),
        "PYTHONUNBUFFERED": "1",
        "CELERY_DEFAULT_QUEUE": queue,
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
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
                "INFO",
                "--hostname",
                f"{queue}{'-' + name if name else ''}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return WorkerProcess(queue=queue, process=process, log_path=log_path)


def stop_worker(worker: WorkerProcess) -> None:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait()


@pytest.fixture
def celery_workers(
    transactional_db: None, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts workers on one private queue; every one of them is stopped at the end. Workers
    running side by side need a `name` each; one started without a name again after another
    died is that worker restarted."""
    from sfe_portal.celery import app

    app.conf.task_always_eager = False
    queue = f"test-{uuid.uuid4().hex[:12]}"
    started: list[WorkerProcess] = []

    def start(name: str = "") -> WorkerProcess:
        worker = start_worker(queue, tmp_path / "worker.log", name=name)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            stop_worker(worker)


@pytest.fixture
def celery_worker(celery_workers: Callable[..., WorkerProcess]) -> WorkerProcess:
    return celery_workers()


@pytest.fixture(params=["v1", "expenses"])
def generation(request: pytest.FixtureRequest, settings: Any) -> str:
    """The generation of Codat's expenses API the test's new companies speak, in the portal and
    in the sandbox alike (both take `CODAT_EXPENSES_API_DEFAULT`): a test asking for it runs
    once in Sync for Expenses v1 and once in the newer Expenses API."""
    settings.CODAT_EXPENSES_API_DEFAULT = request.param
    return str(request.param)


@pytest.fixture
def sandbox(live_server: Any, settings: Any) -> Iterator[None]:
    """The portal talks to the sandbox served by the live server, whose syncs run at once and
    whose webhooks go nowhere; faults a test set are cleared at its end. A module may define
    its own."""
    from sandbox.models import SandboxSettings
    from tests.integration.sandbox_company import control

    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    yield
    control("DELETE", "faults")
