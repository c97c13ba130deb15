"""With a real Celery worker on the `sandbox` queue: a sync is processed after its delay and its
webhook delivered, with no read of the sync to move it along."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from svix.webhooks import Webhook

from sandbox.models import SandboxSync, SandboxWebhookDelivery
from sfe_portal.celery import app
from tests.sandbox.conftest import Api, link_company, payment, push
from tests.sandbox.test_webhooks import SECRET, Receiver

REPO = Path(__file__).resolve().parents[2]


def _database_env() -> dict[str, str]:
    """Point the worker at this test's database."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": str(db["NAME"])}
    user = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return {"DATABASE_URL": f"postgres://{user}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


@pytest.fixture
def worker(transactional_db: Any, tmp_path: Path) -> Iterator[None]:
    app.conf.task_always_eager = False
    log = tmp_path / "worker.log"
    env = {**os.environ, **_database_env(), "SFE_TESTING": "false"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "sfe_portal",
                "worker",
                "--queues",
                "sandbox",
                "--pool",
                "solo",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "ready." not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)
        app.conf.task_always_eager = True


@pytest.mark.worker
@pytest.mark.usefixtures("worker")
def test_a_worker_processes_the_sync_and_delivers_its_webhook(api: Api) -> None:
    receiver = Receiver()
    linked = link_company(api, "qhyg")
    api.put(
        "/_sandbox/settings",
        {"sync_delay_ms": 500, "webhook_url": receiver.url, "webhook_secret": SECRET},
    )
    tx_id = str(uuid.uuid4())

    sync_id = push(api, linked, [payment(linked, tx_id)])

    deadline = time.monotonic() + 30
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.2)
    receiver.server.shutdown()
    sync = SandboxSync.objects.get(pk=sync_id)
    assert (sync.state, sync.status_code) == ("finished", 2000)
    assert (sync.finished_at - sync.created).total_seconds() >= 0.5
    headers, body = receiver.received[0]
    Webhook(SECRET).verify(body, headers)
    assert SandboxWebhookDelivery.objects.get().status == "delivered"
