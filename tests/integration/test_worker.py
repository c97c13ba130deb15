"""A task sent through the configured broker (Redis in CI, the filesystem transport by
default) is run end to end by a real worker process and its effect lands in the database."""

from django.conf import settings

from syncs.models import WorkerHeartbeat
from syncs.tasks import heartbeat
from tests.integration.conftest import wait_for


def test_real_worker_runs_a_task_from_the_broker(celery_worker):
    heartbeat.apply_async(queue=celery_worker.queue)

    beat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(queue=celery_worker.queue).first(),
        timeout=90,
        what="the worker to record its heartbeat",
        worker=celery_worker,
    )

    assert beat.hostname.startswith(celery_worker.queue)
    assert settings.CELERY_BROKER_URL.split("://")[0] in {"filesystem", "redis"}
    assert "syncs.heartbeat" in celery_worker.log()
