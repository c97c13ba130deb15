"""Health for load balancers and orchestrators.

`/healthz` says the process answers (no database: a database outage must not get every web
node killed). `/readyz` checks what a request needs — the database, the broker and the receipt
storage — and answers 503 naming each failing check and why, with every check's latency.

Codat is not one of them: pages never call it (tasks do, and ride out its outages), so a Codat
outage must not take every web node out of the load balancer. With the sandbox off, `/readyz`
also reports Codat, marked informational: the last answer is kept `CODAT_CHECK_CACHE_S` per
process, so probes do not spend a Codat call each, and a failing Codat only adds a warning.

The whole probe answers within `PROBE_BUDGET_S`: each check is given what is left of it (up to
its own cap), and a check with no time left fails as not run.
"""

from __future__ import annotations

import base64
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu.utils.url import maybe_sanitize_url

# A load balancer's probe times out after a few seconds: answer well within them.
PROBE_BUDGET_S = 2.0
# The most one check may take of the budget.
CHECK_CAP_S = 1.5
# How long one process reuses Codat's last answer, ok or failing.
CODAT_CHECK_CACHE_S = 60.0
# The shortest timeout worth giving a check; below it the check is not run.
MIN_CHECK_S = 0.05

# Monotonic seconds; tests replace it to move time without waiting.
clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    ms: float
    error: str = ""
    informational: bool = False
    age_s: float | None = None  # how old a cached answer is

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.error:
            body["error"] = self.error
        if self.informational:
            body["informational"] = True
        if self.age_s is not None:
            body["age_s"] = round(self.age_s, 1)
        return body


def check_database(timeout: float) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # LOCAL: the connection's own setting is back at the end of the transaction.
            cursor.execute("SET LOCAL statement_timeout = %s", [max(1, int(timeout * 1000))])
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker(timeout: float) -> None:
    from sfe_portal.celery import app

    with app.connection_for_write() as conn:
        try:
            # kombu takes seconds as a float here; its stubs say int.
            conn.ensure_connection(
                max_retries=1,
                interval_start=0,
                interval_step=0,
                timeout=timeout,  # type: ignore[arg-type]
            )
        except Exception as exc:
            # The configured address (not the transport's), its password, if any, shown as **.
            uri = maybe_sanitize_url(app.conf.broker_url)
            raise RuntimeError(f"cannot reach the broker at {uri}: {exc}") from exc


_probe_clients: dict[tuple[Any, ...], Any] = {}


def _bucket_probe_client(storage: Any, timeout: float) -> Any:
    """An S3 client like the storage's own, but with the probe's timeout and no retries (the
    storage's client waits a minute and retries: right for an upload, not for a probe)."""
    key = (storage.bucket_name, storage.endpoint_url, storage.region_name, timeout)
    if key not in _probe_clients:
        from botocore.config import Config  # type: ignore[import-untyped]

        config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1})
        if storage.client_config is not None:
            config = storage.client_config.merge(config)
        _probe_clients[key] = storage._create_session().client(
            "s3",
            region_name=storage.region_name,
            use_ssl=storage.use_ssl,
            endpoint_url=storage.endpoint_url,
            verify=storage.verify,
            config=config,
        )
    return _probe_clients[key]


def check_storage(timeout: float) -> None:
    bucket = getattr(default_storage, "bucket_name", None)
    if bucket:
        # Whole quarter seconds, rounded down: a handful of clients serve every probe.
        client = _bucket_probe_client(default_storage, max(0.25, math.floor(timeout * 4) / 4))
        try:
            client.head_bucket(Bucket=bucket)
        except Exception as exc:
            raise RuntimeError(f"cannot reach the receipt bucket {bucket!r}: {exc}") from exc
        return
    location = Path(getattr(default_storage, "location", settings.MEDIA_ROOT))
    location.mkdir(parents=True, exist_ok=True)
    if not os.access(location, os.W_OK):
        raise RuntimeError(f"the receipt folder {location} is not writable")


def check_codat(timeout: float) -> None:
    auth = base64.b64encode(settings.CODAT_API_KEY.encode()).decode()
    try:
        response = requests.get(
            settings.CODAT_BASE_URL.rstrip("/") + "/companies",
            params={"page": 1, "pageSize": 1},
            headers={"Authorization": f"Basic {auth}", "Accept": "application/json"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise RuntimeError(f"cannot reach Codat at {settings.CODAT_BASE_URL}: {exc}") from exc
    if response.status_code in (401, 403):
        raise RuntimeError(f"Codat refused CODAT_API_KEY ({response.status_code})")
    if response.status_code >= 400:
        raise RuntimeError(f"Codat answered {response.status_code}")


def readiness_checks() -> dict[str, Callable[[float], None]]:
    """What a request needs: any of them failing takes the node out of the load balancer."""
    return {"database": check_database, "broker": check_broker, "storage": check_storage}


def run_check(name: str, check: Callable[[float], None], timeout: float) -> CheckResult:
    if timeout < MIN_CHECK_S:
        return CheckResult(name, False, 0.0, f"{name}: not checked, the probe ran out of time")
    started = time.perf_counter()
    try:
        check(timeout)
    except Exception as exc:
        return CheckResult(name, False, (time.perf_counter() - started) * 1000, f"{name}: {exc}")
    return CheckResult(name, True, (time.perf_counter() - started) * 1000)


class CodatStatus:
    """Codat's last answer in this process, asked again once it is `max_age_s` old. One probe
    at a time asks; the others meanwhile show the last answer (or say it is being checked)."""

    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self._asking = threading.Lock()
        self._last: CheckResult | None = None
        self._at = 0.0

    def clear(self) -> None:
        self._last = None

    def _cached(self) -> CheckResult | None:
        last, at = self._last, self._at
        if last is None:
            return None
        return replace(last, age_s=clock() - at)

    def result(self, timeout: float) -> CheckResult:
        cached = self._cached()
        if cached is not None and cached.age_s is not None and cached.age_s < self.max_age_s:
            return cached
        if not self._asking.acquire(blocking=False):
            return cached or CheckResult(
                "codat", False, 0.0, "codat: being checked by another probe", informational=True
            )
        try:
            result = replace(run_check("codat", check_codat, timeout), informational=True)
            if result.ok or "ran out of time" not in result.error:
                self._last, self._at = result, clock()
            return replace(result, age_s=0.0)
        finally:
            self._asking.release()


codat_status = CodatStatus(CODAT_CHECK_CACHE_S)


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    deadline = clock() + PROBE_BUDGET_S
    results: list[CheckResult] = []
    for name, check in readiness_checks().items():
        results.append(run_check(name, check, min(CHECK_CAP_S, deadline - clock())))
    failing = [r for r in results if not r.ok]
    if not settings.SANDBOX_ENABLED:
        results.append(codat_status.result(min(CHECK_CAP_S, deadline - clock())))
    return JsonResponse(
        {
            "status": "failing" if failing else "ok",
            "reasons": [r.error for r in failing],
            "warnings": [r.error for r in results if r.informational and not r.ok],
            "checks": {r.name: r.as_json() for r in results},
        },
        status=503 if failing else 200,
    )
