"""A task sent through the configured broker (Redis in CI, the filesystem transport by
default) is run end to end by a real worker process and its effect lands in the database."""

from django.conf import settings

from syncs.models import WorkerHeartbeat
from syncs.tasks import heartbeat
from tests.integration.conftest import wait_for


def test_real_worker_runs_a_task_from_the_broker(celery_worker):
    sent = heartbeat.apply_async(queue=celery_worker.queue)

    # The worker also reports at start-up: wait for this very task, not for any heartbeat.
    wait_for(
        lambda: f"syncs.heartbeat[{sent.id}] succeeded" in celery_worker.log(),
        timeout=90,
        what="the worker to run the heartbeat task",
        worker=celery_worker,
    )

    beat = WorkerHeartbeat.objects.get(queue=celery_worker.queue)
    assert beat.hostname.startswith(celery_worker.queue)
    assert settings.CELERY_BROKER_URL.split("://")[0] in {"filesystem", "redis"}


def test_a_starting_worker_reports_its_queue_before_any_task(celery_worker):
    beat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(queue=celery_worker.queue).first(),
        timeout=60,
        what="the worker to report its queue at start-up",
        worker=celery_worker,
    )

    assert beat.hostname.startswith(celery_worker.queue)
    assert "Task syncs.heartbeat[" not in celery_worker.log()
