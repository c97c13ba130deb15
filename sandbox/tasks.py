"""Celery adapters around the sandbox's services, on the `sandbox` queue. State lives in the
models, so running a task twice is harmless."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import Task
from django.utils import timezone

from sandbox.engine import process_due_syncs
from sandbox.models import DeliveryStatus
from sandbox.webhooks import deliver_due_webhooks, webhook_deliver
from sfe_portal.celery import app

logger = logging.getLogger(__name__)


class Dispatch:
    """Whether work is handed to Celery. `runsandbox` turns it off: its own pump runs the work,
    and there may be no broker at all."""

    enabled = True


def enqueue(task: Task, *args: Any, countdown: float = 0) -> None:
    """Hand work to the `sandbox` queue. A broker that cannot be reached is logged, not raised:
    the opportunistic processing on reads and the runsandbox pump still get the work done."""
    if not Dispatch.enabled:
        return
    try:
        task.apply_async(args, countdown=countdown)
    except Exception:
        logger.exception(
            "could not enqueue %s; it will run on the next read or pump turn", task.name
        )


@app.task(name="sandbox.process_syncs", acks_late=True, ignore_result=True)
def process_syncs_task(company_id: str | None = None) -> int:
    ids = None if company_id is None else [uuid.UUID(company_id)]
    return process_due_syncs(now=timezone.now(), company_ids=ids)


@app.task(name="sandbox.sweep", acks_late=True, ignore_result=True)
def sweep_task() -> None:
    """Periodic safety net: a sync or delivery whose task was lost (a worker died) still runs."""
    now = timezone.now()
    process_due_syncs(now=now)
    deliver_due_webhooks(now=now)


@app.task(name="sandbox.deliver_webhook", acks_late=True, ignore_result=True)
def deliver_webhook_task(delivery_id: str) -> None:
    delivery = webhook_deliver(delivery_id=delivery_id, now=timezone.now())
    if delivery is not None and delivery.status == DeliveryStatus.PENDING:
        # Bounded: webhook_deliver marks the row failed once BACKOFF_S is spent.
        countdown = (delivery.next_attempt_at - timezone.now()).total_seconds()
        if app.conf.task_always_eager:
            # Eager runs ignore countdowns and would spend every retry at once; the pump of
            # runsandbox (deliver_due_webhooks) picks the row up when it is due instead.
            return
        enqueue(deliver_webhook_task, delivery_id, countdown=max(countdown, 0))
