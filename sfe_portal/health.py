"""Health for load balancers and orchestrators.

`/healthz` says the process answers (no database: a database outage must not get every web
node killed). `/readyz` checks what a request needs — the database, the broker, the receipt
storage and, with the sandbox off, Codat — and answers 503 naming each failing check and why,
with every check's latency.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu.utils.url import maybe_sanitize_url

CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    ms: float
    error: str = ""

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.error:
            body["error"] = self.error
        return body


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    from sfe_portal.celery import app

    with app.connection_for_write() as conn:
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        except Exception as exc:
            # The configured address (not the transport's), its password, if any, shown as **.
            uri = maybe_sanitize_url(app.conf.broker_url)
            raise RuntimeError(f"cannot reach the broker at {uri}: {exc}") from exc


def check_storage() -> None:
    bucket = getattr(default_storage, "bucket_name", None)
    if bucket:
        client = default_storage.connection.meta.client  # type: ignore[attr-defined]
        try:
            client.head_bucket(Bucket=bucket)
        except Exception as exc:
            raise RuntimeError(f"cannot reach the receipt bucket {bucket!r}: {exc}") from exc
        return
    location = Path(getattr(default_storage, "location", settings.MEDIA_ROOT))
    location.mkdir(parents=True, exist_ok=True)
    if not os.access(location, os.W_OK):
        raise RuntimeError(f"the receipt folder {location} is not writable")


def check_codat() -> None:
    auth = base64.b64encode(settings.CODAT_API_KEY.encode()).decode()
    try:
        response = requests.get(
            settings.CODAT_BASE_URL.rstrip("/") + "/companies",
            params={"page": 1, "pageSize": 1},
            headers={"Authorization": f"Basic {auth}", "Accept": "application/json"},
            timeout=CHECK_TIMEOUT_S,
        )
    except requests.RequestException as exc:
        raise RuntimeError(f"cannot reach Codat at {settings.CODAT_BASE_URL}: {exc}") from exc
    if response.status_code in (401, 403):
        raise RuntimeError(f"Codat refused CODAT_API_KEY ({response.status_code})")
    if response.status_code >= 400:
        raise RuntimeError(f"Codat answered {response.status_code}")


def readiness_checks() -> dict[str, Callable[[], None]]:
    checks = {"database": check_database, "broker": check_broker, "storage": check_storage}
    if not settings.SANDBOX_ENABLED:
        checks["codat"] = check_codat
    return checks


def run_check(name: str, check: Callable[[], None]) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return CheckResult(name, False, (time.perf_counter() - started) * 1000, f"{name}: {exc}")
    return CheckResult(name, True, (time.perf_counter() - started) * 1000)


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results = [run_check(name, check) for name, check in readiness_checks().items()]
    failing = [r for r in results if not r.ok]
    return JsonResponse(
        {
            "status": "failing" if failing else "ok",
            "reasons": [r.error for r in failing],
            "checks": {r.name: r.as_json() for r in results},
        },
        status=503 if failing else 200,
    )
