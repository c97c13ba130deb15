"""The Redis broker transport, made to survive a Redis restart.

When a worker loses its broker, kombu closes the old channel and reconnects on a new one. Two
steps of kombu 5.7's Redis transport then reach for the closed channel's connection, raise
AttributeError inside the worker's event loop, and stop the worker for good instead of letting
it reconnect (both found by the soak, docs/reliability.md):

- closing the channel puts the worker's unacknowledged messages back on their queues;
- a task that was running during the restart finishes and acknowledges its message.

Neither can reach Redis through a closed channel. Here both skip the Redis part with a
warning: the messages stay in Redis's unacked set, which a consumer restores after the
visibility timeout, and if the restarted Redis lost them the sweeper (`syncs.sweep`) re-queues
the work they stood for. Every task is safe to run twice.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

logger = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def _channel_closed(self) -> bool:
        transport = self.channel.connection
        return transport is None or transport.client is None

    def restore_unacked_once(self, stderr: Any = None) -> Any:
        if self._channel_closed():
            logger.warning(
                "The broker connection closed before %s unacknowledged message(s) could be "
                "put back; they are restored after the visibility timeout, or the sweeper "
                "re-queues their work.",
                len(self._delivered or ()),
            )
            return None
        return super().restore_unacked_once(stderr)

    def ack(self, delivery_tag: str) -> None:
        if self._channel_closed():
            logger.warning("A task finished after its broker connection closed; not acked.")
            virtual.QoS.ack(self, delivery_tag)  # forget it locally
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if self._channel_closed():
            logger.warning("A task was rejected after its broker connection closed.")
            virtual.QoS.ack(self, delivery_tag)
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
