"""A worker survives its Redis broker restarting while it holds unacknowledged messages: it
reconnects and goes on consuming (kombu's own transport stopped the worker for good)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from reliability.stack import PrivateRedis
from syncs.models import WorkerHeartbeat
from syncs.tasks import heartbeat
from tests.conftest import require_resource
from tests.integration.conftest import wait_for
from tests.integration.test_soak import _free_port, _use_broker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def private_redis(settings, monkeypatch, tmp_path) -> Iterator[PrivateRedis]:
    require_resource(shutil.which("redis-server") is not None, "redis-server is not installed")
    redis = PrivateRedis(_free_port(), tmp_path)
    redis.start()
    url = f"redis://127.0.0.1:{redis.port}/0"
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    _use_broker(url)
    yield redis
    _use_broker(settings.CELERY_BROKER_URL)
    redis.stop()


def test_a_worker_holding_unacked_tasks_reconnects_after_redis_restarts(
    private_redis, celery_worker
):
    queue = celery_worker.queue
    # A task held by the worker until its countdown: unacknowledged when Redis goes away.
    heartbeat.apply_async(countdown=600, queue=queue)
    wait_for(
        lambda: "syncs.heartbeat" in celery_worker.log() and "received" in celery_worker.log(),
        timeout=30,
        what="the worker to hold the delayed task",
        worker=celery_worker,
    )

    private_redis.restart(down_s=1.0)
    sent = heartbeat.apply_async(queue=queue)

    # The worker's start-up heartbeat is already there: wait for this very task.
    wait_for(
        lambda: f"syncs.heartbeat[{sent.id}] succeeded" in celery_worker.log(),
        timeout=60,
        what="the worker to run a task sent after the restart",
        worker=celery_worker,
    )
    assert WorkerHeartbeat.objects.filter(queue=queue).exists()
    assert celery_worker.process.poll() is None
