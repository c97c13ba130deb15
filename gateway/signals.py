"""Receivers of Celery's worker signals for the gateway, connected when the app is ready
(`gateway/apps.py`)."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connections

from gateway.call_slots import call_slots_release_of_worker

logger = logging.getLogger(__name__)


def call_slots_release_on_worker_start(sender: str | None = None, **_: object) -> None:
    """A worker starting under a name gives back the Codat call slots its previous run still
    held (killed mid-call): until their lease ran out (20 minutes by default) they kept its
    companies' work waiting. Sent with the worker's name before it consumes any task."""
    if not sender:
        return
    try:
        released = call_slots_release_of_worker(str(sender))
    except DatabaseError:
        logger.warning("Call slots of an earlier run of %s not released; their lease ends", sender)
        return
    finally:
        # In the prefork pool this process only supervises and forks: it keeps no connection.
        connections.close_all()
    if released:
        logger.warning(
            "Released %s Codat call slots that an earlier run of worker %s held when it died",
            released,
            sender,
        )
