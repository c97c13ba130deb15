"""Celery adapters around the sandbox's services, on the `sandbox` queue. State lives in the
models, so running a task twice is harmless."""

from __future__ import annotations

import uuid

from django.utils import timezone

from sandbox.engine import process_due_syncs
from sandbox.models import DeliveryStatus
from sandbox.webhooks import webhook_deliver
from sfe_portal.celery import app


@app.task(name="sandbox.process_syncs", acks_late=True, ignore_result=True)
def process_syncs_task(company_id: str | None = None) -> int:
    ids = None if company_id is None else [uuid.UUID(company_id)]
    return process_due_syncs(now=timezone.now(), company_ids=ids)


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
        deliver_webhook_task.apply_async((delivery_id,), countdown=max(countdown, 0))
