"""Serve the Codat sandbox alone: `python manage.py runsandbox [addrport]` (default
127.0.0.1:8001). It needs no Celery worker: a background pump runs due syncs and webhook
deliveries twice a second, so syncs finish and webhooks arrive exactly as with a worker."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.servers.basehttp import run
from django.db import close_old_connections
from django.utils import timezone

from sandbox.engine import process_due_syncs
from sandbox.tasks import Dispatch
from sandbox.webhooks import deliver_due_webhooks

logger = logging.getLogger(__name__)
PUMP_INTERVAL_S = 0.5


def pump_once() -> tuple[int, int]:
    """One turn of the background pump: (syncs processed, webhook attempts made)."""
    now = timezone.now()
    return process_due_syncs(now=now), deliver_due_webhooks(now=now)


def _pump(stop: threading.Event) -> None:
    while not stop.wait(PUMP_INTERVAL_S):
        try:
            pump_once()
        except Exception:  # the pump must outlive a bad turn; the next one retries
            logger.exception("sandbox pump turn failed")
        finally:
            close_old_connections()


class Command(BaseCommand):
    help = "Serve the Codat sandbox alone on its own port (default 127.0.0.1:8001)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8001")

    def handle(self, *args: Any, **options: Any) -> None:
        if "sandbox" not in settings.INSTALLED_APPS:
            raise CommandError("Set SANDBOX_ENABLED=true: the sandbox app is not installed.")
        host, _, port = str(options["addrport"]).rpartition(":")
        host = host or "127.0.0.1"
        if not port.isdigit():
            raise CommandError(f"{options['addrport']!r} is not an address:port or a port.")
        self.check(display_num_errors=True)
        self.check_migrations()
        # Only the sandbox is mounted; the portal's pages are not served from this port.
        settings.ROOT_URLCONF = "sandbox.standalone_urls"
        Dispatch.enabled = False  # the pump below does the work; no broker is needed
        stop = threading.Event()
        threading.Thread(target=_pump, args=(stop,), name="sandbox-pump", daemon=True).start()
        self.stdout.write(
            f"Codat sandbox on http://{host}:{port}/codat-sandbox "
            f"(API key from CODAT_API_KEY; quit with CONTROL-C)"
        )
        try:
            run(host, int(port), WSGIHandler(), ipv6=False, threading=True)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
