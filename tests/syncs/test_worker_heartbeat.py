"""A worker shows on the dashboard as soon as it starts: beat's first heartbeat comes only a
minute later, and until then the dashboard said no worker was running."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from celery.signals import worker_ready
from django.urls import reverse

from syncs.models import WorkerHeartbeat
from tests.factories import SupportFactory

# The handler closes the connections of the worker's main process: no test transaction around.
pytestmark = pytest.mark.django_db(transaction=True)

NO_WORKER = "No worker has reported yet"


@dataclass(eq=False)
class Consumer:
    """What a worker hands to `worker_ready`: its name, and its app consuming some queues."""

    hostname: str
    app: SimpleNamespace


def _consumer(hostname: str, *queues: str) -> Consumer:
    consume_from = dict.fromkeys(queues)
    return Consumer(
        hostname=hostname,
        app=SimpleNamespace(
            amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=consume_from))
        ),
    )


def test_a_starting_worker_shows_on_the_dashboard_before_beats_first_heartbeat(client):
    client.force_login(SupportFactory())
    assert NO_WORKER in client.get(reverse("dashboard")).content.decode()

    worker_ready.send(sender=_consumer("celery@host-1", "portal", "sandbox"))

    page = client.get(reverse("dashboard")).content.decode()
    assert NO_WORKER not in page
    assert "celery@host-1" in page
    assert list(WorkerHeartbeat.objects.order_by("queue").values_list("queue", "hostname")) == [
        ("portal", "celery@host-1"),
        ("sandbox", "celery@host-1"),
    ]
