"""The decorator every Codat-surface view wears: API-key auth, the requests-per-minute limit,
`Idempotency-Key` (see `sandbox.idempotency`), the configured faults, and `ErrorMessage` bodies
for every `ApiError`.

Faults are decided *before* the operation runs, so a faulted request writes nothing, except the
"lost answer" (`lost_answer_rate`): the operation runs and commits, then the answer stalls past
the client's timeout and ends 504. A faulted 5xx is the key's first answer and is cached like any
other; a 429 and a timeout on the way in are not. A repeat answered from the cache is not faulted.
The control surface (`_sandbox/…`) uses the same auth but is never faulted or rate limited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox import idempotency
from sandbox.errors import ApiError, error_response
from sandbox.models import SandboxRateWindow, SandboxSettings
from sandbox.webhooks import current_settings

View = Callable[..., HttpResponse]
logger = logging.getLogger(__name__)
TIMEOUT_TEXT = "The request timed out. Please try again later."


class Unreached(ApiError):
    """A fault on the way in: the operation never ran, so no answer is cached under a key."""


@dataclass
class FaultRuntime:
    """What fault injection draws on: a seedable RNG and a sleep tests can replace, so fault
    tests are deterministic and never really wait."""

    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep


runtime = FaultRuntime()


def expected_header() -> str:
    return "Basic " + base64.b64encode(settings.CODAT_API_KEY.encode()).decode()


def authenticate(request: HttpRequest) -> str:
    supplied = request.headers.get("Authorization", "")
    if not hmac.compare_digest(supplied.encode(), expected_header().encode()):
        raise ApiError(401, "Unauthorized")
    return hashlib.sha256(supplied.encode()).hexdigest()


def _rate_limit(key_digest: str, limit: int, now: datetime) -> dict[str, str]:
    window = now.replace(second=0, microsecond=0)
    reset = window + timedelta(minutes=1)
    row, created = SandboxRateWindow.objects.get_or_create(
        key_digest=key_digest, window_start=window
    )
    if created:  # a new minute: earlier windows are no longer needed
        SandboxRateWindow.objects.filter(window_start__lt=window).delete()
    SandboxRateWindow.objects.filter(pk=row.pk).update(count=F("count") + 1)
    count = row.count + 1
    headers = {
        "X-Rate-Limit-Limit": str(limit),
        "X-Rate-Limit-Remaining": str(max(limit - count, 0)),
        "X-Rate-Limit-Reset": reset.isoformat().replace("+00:00", "Z"),
    }
    if count > limit:
        retry_after = max(int((reset - now).total_seconds()) + 1, 1)
        raise ApiError(429, headers={**headers, "Retry-After": str(retry_after)})
    return headers


def _apply_faults(row: SandboxSettings) -> bool:
    """Raise the faults drawn for this request; True when its answer is to be lost."""
    if row.rate_limit_every:
        SandboxSettings.objects.filter(pk=row.pk).update(request_counter=F("request_counter") + 1)
        counter = SandboxSettings.objects.values_list("request_counter", flat=True).get(pk=row.pk)
        if counter % row.rate_limit_every == 0:
            raise Unreached(429, headers={"Retry-After": str(row.retry_after_s)})
    if row.error_rate and runtime.rng.random() < row.error_rate:
        raise ApiError(row.error_status, can_be_retried="Unknown")
    if row.timeout_rate and runtime.rng.random() < row.timeout_rate:
        # Stall past the client's timeout; whoever is still listening gets a gateway timeout.
        runtime.sleep(row.timeout_stall_ms / 1000)
        raise Unreached(504, TIMEOUT_TEXT)
    lost = bool(row.lost_answer_rate and runtime.rng.random() < row.lost_answer_rate)
    if row.latency_ms:
        runtime.sleep(row.latency_ms / 1000)
    return lost


def _run(
    view: View, request: HttpRequest, args: Any, kwargs: Any, row: SandboxSettings
) -> HttpResponse:
    """The operation behind idempotency: faults, the view, the first answer kept under a key."""
    claim = idempotency.begin(request, kwargs.get("company_id"))
    if isinstance(claim, HttpResponse):
        return claim  # a repeat: the first answer again
    lost = False
    try:
        lost = _apply_faults(row)
        response = view(request, *args, **kwargs)
    except Unreached as exc:
        if claim is not None:
            idempotency.abandon(claim)
        return error_response(exc)
    except ApiError as exc:
        response = error_response(exc)
    except Exception:
        if claim is None:
            raise
        # Codat keeps a server error under the key as it keeps any other answer.
        logger.exception("sandbox operation %s %s failed", request.method, request.path)
        response = error_response(ApiError(500))
    if claim is not None:
        idempotency.finish(claim, response)
    if lost:
        # The work is done and committed; the client only ever sees a gateway timeout.
        runtime.sleep(row.timeout_stall_ms / 1000)
        return error_response(ApiError(504, TIMEOUT_TEXT))
    return response


def codat_api(*methods: str, control: bool = False) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            rate_headers: dict[str, str] = {}
            try:
                key_digest = authenticate(request)
                if request.method not in methods and control:
                    raise ApiError(405, f"The method {request.method} is not allowed here.")
                if control:
                    response = view(request, *args, **kwargs)
                else:
                    row = current_settings()
                    rate_headers = _rate_limit(
                        key_digest, row.rate_limit_per_minute, timezone.now()
                    )
                    if request.method not in methods:
                        _apply_faults(row)
                        raise ApiError(405, f"The method {request.method} is not allowed here.")
                    response = _run(view, request, args, kwargs, row)
            except ApiError as exc:
                response = error_response(exc)
            for name, value in rate_headers.items():
                if name not in response:
                    response[name] = value
            return response

        return login_not_required(csrf_exempt(wrapper))

    return decorator


def json_body(request: HttpRequest, *, required: bool = True) -> Any:
    """The request's JSON, numbers as Decimal so amounts keep their exact value."""
    if not request.body or (not required and "json" not in (request.content_type or "")):
        if required:
            raise ApiError(400, "A JSON request body is required.")
        return None
    try:
        return json.loads(request.body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON.") from None


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return float(o)
        return super().default(o)


def ok(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, encoder=_Encoder)
