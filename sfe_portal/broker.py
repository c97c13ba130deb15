"""The Redis broker transport, made to survive a Redis restart.

When the worker loses its broker connection, kombu closes the channel, and closing puts the
worker's unacknowledged messages (tasks waiting for their countdown, the one running) back on
their queues. With Redis gone that cannot work, and kombu 5.7 then raises AttributeError from
inside the worker's reconnection: the worker stops for good instead of reconnecting (found by
the soak, docs/reliability.md). Here that one step gives up with a warning; the messages stay
in Redis's unacked set, which the next consumer restores after the visibility timeout, and if
the restarted Redis lost them the sweeper (`syncs.sweep`) re-queues the work they stood for.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.exceptions
from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def restore_unacked_once(self, stderr: Any = None) -> Any:
        try:
            return super().restore_unacked_once(stderr)
        except (AttributeError, OSError, redis.exceptions.ConnectionError) as exc:
            logger.warning(
                "The broker went away before %s unacknowledged message(s) could be put back "
                "(%s); they are restored after the visibility timeout or re-queued by the "
                "sweeper.",
                len(self._delivered or ()),
                exc.__class__.__name__,
            )
            return None


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
