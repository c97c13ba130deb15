"""Receivers of Celery's worker signals, connected when the app is ready (`syncs/apps.py`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import DatabaseError, connections

from syncs.services import heartbeat_record

if TYPE_CHECKING:
    from celery.worker.consumer import Consumer

logger = logging.getLogger(__name__)


def heartbeat_on_worker_ready(sender: Consumer | None = None, **_: object) -> None:
    """A worker reports each of its queues as soon as it consumes them: beat's first heartbeat
    comes only a minute after start, and the dashboard would say no worker runs until then."""
    if sender is None:
        return
    try:
        for queue in sender.app.amqp.queues.consume_from:
            heartbeat_record(queue=queue, hostname=sender.hostname)
    except DatabaseError:
        logger.warning("No start-up heartbeat recorded; beat's first one will report the worker")
    finally:
        # In the prefork pool this process only supervises and forks: it keeps no connection.
        connections.close_all()
