"""Every way a Codat call can fail, as one exception hierarchy.

Callers catch `CodatError` (or a subclass) and never see a `requests` exception or a raw dict.
Each error carries what support and the portal's screens need: the HTTP status, Codat's service
name and message, the correlation id Codat asks for in support tickets, and validation items.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

# Codat documents `correlationId` in the body; gateways in front of it and the emulator may also
# send one of these headers, which is the only id we get when the body is not JSON.
CORRELATION_HEADERS = ("x-correlation-id", "correlation-id", "x-request-id")

_MAX_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class ValidationItem:
    """One entry of `ErrorMessage.validation.errors` or `.warnings`."""

    item_id: str | None
    message: str | None
    validator_name: str | None

    @classmethod
    def from_api(cls, data: Any) -> ValidationItem | None:
        if not isinstance(data, Mapping):
            return None
        return cls(
            item_id=_opt_str(data.get("itemId")),
            message=_opt_str(data.get("message")),
            validator_name=_opt_str(data.get("validatorName")),
        )


class CodatError(Exception):
    """A Codat call failed. `transient` says whether trying again later may succeed."""

    transient = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        service: str | None = None,
        correlation_id: str | None = None,
        validation_errors: tuple[ValidationItem, ...] = (),
        validation_warnings: tuple[ValidationItem, ...] = (),
        can_be_retried: str | None = None,
        detailed_error_code: int | None = None,
        method: str | None = None,
        path: str | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.service = service
        self.correlation_id = correlation_id
        self.validation_errors = validation_errors
        self.validation_warnings = validation_warnings
        # Codat sends this as a string ("Unknown", "No", "True"), so it is kept as sent.
        self.can_be_retried = can_be_retried
        self.detailed_error_code = detailed_error_code
        self.method = method
        self.path = path
        # The `Idempotency-Key` the failed request carried: resending with it is safe.
        self.idempotency_key = idempotency_key

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.method and self.path:
            parts.append(f"{self.method} {self.path}")
        if self.correlation_id:
            parts.append(f"correlationId={self.correlation_id}")
        return " | ".join(parts)


class CodatValidationError(CodatError):
    """400: the request was malformed or failed Codat's validation (see `validation_errors`)."""


class CodatAuthError(CodatError):
    """401/403: the API key is wrong, outdated or not allowed to touch this resource."""


class CodatPaymentRequiredError(CodatError):
    """402: the Codat account hit a plan limit (e.g. the Free plan's company limit)."""


class CodatNotFoundError(CodatError):
    """404: the company, connection, sync or transaction does not exist (or no longer does)."""


class CodatGoneError(CodatError):
    """410: the operation is switched off for good, as Codat does with an API it retires (Sync
    for Expenses v1's dataset and initiate-sync from 2027-05-01). Trying again cannot help: the
    caller moves to the operation that replaced it."""


class CodatNotReadyError(CodatError):
    """409: the data type has not been fetched yet or is still syncing; refresh and wait."""

    transient = True


class CodatUnprocessableError(CodatError):
    """422: the request is valid but the company's platform or connections cannot carry it out."""


class CodatRateLimitedError(CodatError):
    """429: the quota or request rate is exhausted; `retry_after` is Codat's wait in seconds."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CodatUnavailableError(CodatError):
    """5xx, timeouts and connection failures: Codat could not be reached or did not answer."""

    transient = True


class CodatIdempotencyInFlightError(CodatNotReadyError):
    """409 to a request with an `Idempotency-Key`: Codat is still working on the first request
    that carried this key. Wait, then send the same body with the same key for its answer."""

    transient = True


class CodatIdempotencyConflictError(CodatUnprocessableError):
    """422 to a request with an `Idempotency-Key`: Codat already holds a request with this key
    and another body. The key was reused for a different request; nothing new was written."""


class CodatIdempotentServerError(CodatUnavailableError):
    """5xx to a request with an `Idempotency-Key`. Codat keeps this answer for the key for
    90 minutes and replays it to a resend with the same key, so the client never resends it.
    Whether the write happened is unknown: look for its sync before sending with a new key."""

    transient = False


class CodatProtocolError(CodatError):
    """Codat answered with success but a body this client cannot read (bad JSON, wrong shape)."""


_BY_STATUS: dict[int, type[CodatError]] = {
    400: CodatValidationError,
    401: CodatAuthError,
    402: CodatPaymentRequiredError,
    403: CodatAuthError,
    404: CodatNotFoundError,
    408: CodatUnavailableError,
    409: CodatNotReadyError,
    410: CodatGoneError,
    422: CodatUnprocessableError,
    429: CodatRateLimitedError,
}

_DEFAULT_MESSAGES = {
    400: "Codat rejected the request as invalid",
    401: "Codat did not accept the API key",
    402: "The Codat account has reached a plan limit",
    403: "The API key is not allowed to access this resource",
    404: "Codat could not find the resource",
    408: "Codat timed out waiting for the request",
    409: "Codat has not fetched this data yet",
    410: "Codat no longer offers this operation",
    422: "Codat cannot process this request for the company",
    429: "Codat's rate limit was reached",
}


def error_class_for_status(status: int) -> type[CodatError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return CodatUnavailableError
    return CodatError


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str | None = None,
    path: str | None = None,
    now: datetime | None = None,
    idempotency_key: str | None = None,
) -> CodatError:
    """Build the right `CodatError` for an HTTP error answer, whatever its body holds.

    With `idempotency_key` (the request carried one), 409, 422 and 5xx are Codat's idempotency
    answers (https://docs.codat.io/using-the-api/write-data/idempotency) and get their own
    classes; the expense write endpoints document no other 409 or 422.
    """
    data = _json_object(body)
    error_class = error_class_for_status(status)
    message = _opt_str(data.get("error")) if data is not None else None
    if not message:
        message = _text_message(body, status)
    if idempotency_key is not None:
        error_class, message = _keyed(error_class, status, message, idempotency_key)
    validation = data.get("validation") if data is not None else None
    kwargs: dict[str, Any] = {
        "status": status,
        "service": _opt_str(data.get("service")) if data is not None else None,
        "correlation_id": (
            (_opt_str(data.get("correlationId")) if data is not None else None)
            or correlation_id_from_headers(headers)
        ),
        "validation_errors": _items(validation, "errors"),
        "validation_warnings": _items(validation, "warnings"),
        "can_be_retried": _opt_str(data.get("canBeRetried")) if data is not None else None,
        "detailed_error_code": (
            _opt_int(data.get("detailedErrorCode")) if data is not None else None
        ),
        "method": method,
        "path": path,
        "idempotency_key": idempotency_key,
    }
    if error_class is CodatRateLimitedError:
        return CodatRateLimitedError(
            message, retry_after=parse_retry_after(_header(headers, "retry-after"), now), **kwargs
        )
    return error_class(message, **kwargs)


def _keyed(
    error_class: type[CodatError], status: int, message: str, key: str
) -> tuple[type[CodatError], str]:
    if status == 409:
        return CodatIdempotencyInFlightError, (
            f"Codat is still processing the first request with Idempotency-Key {key}; "
            f"wait and resend it with the same key ({message})"
        )
    if status == 422:
        return CodatIdempotencyConflictError, (
            f"Idempotency conflict: Codat already holds a request with Idempotency-Key {key} "
            f"and a different body ({message})"
        )
    if status >= 500:
        return CodatIdempotentServerError, (
            f"Codat answered {status} to the request with Idempotency-Key {key} and replays "
            "that answer to the same key for 90 minutes; the outcome is unknown "
            f"({message})"
        )
    return error_class, message


def correlation_id_from_headers(headers: Mapping[str, str]) -> str | None:
    for name in CORRELATION_HEADERS:
        value = _header(headers, name)
        if value:
            return value
    return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(0.0, seconds)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # requests' CaseInsensitiveDict finds any spelling; plain dicts need the scan.
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


def _json_object(body: bytes) -> Mapping[str, Any] | None:
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data if isinstance(data, Mapping) else None


def _text_message(body: bytes, status: int) -> str:
    default = _DEFAULT_MESSAGES.get(
        status, "Codat is unavailable" if status >= 500 else "Codat returned an error"
    )
    text = body.decode("utf-8", errors="replace").strip() if body else ""
    # An HTML error page from a proxy says nothing useful; a short plain-text reason does.
    if not text or text.startswith("<") or _json_object(body) is not None:
        return f"{default} (HTTP {status})"
    return f"{default} (HTTP {status}): {text[:_MAX_MESSAGE_CHARS]}"


def _items(validation: Any, key: str) -> tuple[ValidationItem, ...]:
    if not isinstance(validation, Mapping):
        return ()
    raw = validation.get(key)
    if not isinstance(raw, list):
        return ()
    return tuple(item for item in map(ValidationItem.from_api, raw) if item is not None)


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return None


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None
