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


@pytest.fixture
def celery_worker(transactional_db: None, tmp_path: Path) -> Iterator[WorkerProcess]:
    from sfe_portal.celery import app

    app.conf.task_always_eager = False
    queue = f"test-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path / "worker.log"
    env = {**os.environ, **_database_env(), "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
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
                f"{queue}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(queue=queue, process=process, log_path=log_path)
    try:
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
