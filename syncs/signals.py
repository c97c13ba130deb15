"""What the syncs app announces to the layers above it, which it may not import, and the
receivers of Celery's worker signals (connected when the app is ready, `syncs/apps.py`).

Each announcement is sent with `send` in the transaction of the change it announces, so a
receiver's records (the notices app's, `notices/apps.py`) are kept or lost with the change,
and a receiver that fails fails the change, which is then tried again as before:

- `sync_settled(sender=Sync, sync=...)`: a sync's results are settled and it has ended
  (`syncs/settle.py`); sent again only if settling is run again.
- `push_stalled(sender=Sync, sync=..., reason=...)`: a push's sending turns failed
  `MAX_RETRIES` times in a row on Codat's transient errors; the sweeper resumes it later.
- `receipt_upload_gave_up(sender=ReceiptUpload, upload=...)`: a receipt upload will not be
  tried again (Codat refused the file, or every attempt is used).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import DatabaseError, connections
from django.dispatch import Signal

from syncs.services import heartbeat_record

if TYPE_CHECKING:
    from celery.worker.consumer import Consumer

logger = logging.getLogger(__name__)

sync_settled = Signal()
push_stalled = Signal()
receipt_upload_gave_up = Signal()


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
