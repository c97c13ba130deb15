"""Celery adapters for the sync pipeline: ids in, one service call, state kept in models."""

from __future__ import annotations

from celery import Task, shared_task

from syncs.services import heartbeat_record


@shared_task(bind=True, name="syncs.heartbeat", acks_late=True, ignore_result=True)
def heartbeat(self: Task) -> None:
    """Proves a worker is consuming a queue; beat sends one every minute."""
    info = self.request.delivery_info or {}
    heartbeat_record(
        queue=str(info.get("routing_key") or self.request.get("queue") or "portal"),
        hostname=str(self.request.hostname or ""),
    )
