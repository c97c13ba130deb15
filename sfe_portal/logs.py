"""Structured logs: every line carries what it is about, so one expense can be followed from
ingest to ledger across web and worker processes.

The context (request id, user, company, expense, sync, Celery task, Codat correlation id) lives
in a `ContextVar`, set by `RequestContextMiddleware` for a web request, by the Celery signals
below for a task (the publisher's request id and company travel in the message headers), and
by the Codat exchange hook (`gateway/exchanges.py`) for the correlation id. A log call can add
its own with `extra={"expense_id": ...}`. `JsonFormatter` writes one JSON object a line
(production); `ReadableFormatter` appends `key=value` pairs (development). `RedactFilter`
takes keys, secrets and Authorization values out of every message first.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

# The fields a line may carry, in the order they are written.
CONTEXT_FIELDS = (
    "request_id",
    "user",
    "company_id",
    "expense_id",
    "expense_ids",
    "sync_id",
    "task_id",
    "task",
    "codat_correlation_id",
)
# What a task passes on to the tasks it sends (the rest belongs to one process).
PROPAGATED_FIELDS = ("request_id", "user", "company_id", "expense_id", "sync_id")
HEADER = "sfe_log_context"

_context: ContextVar[dict[str, Any]] = ContextVar("sfe_log_context")
_task_tokens: dict[str, Token[dict[str, Any]]] = {}


def log_context() -> dict[str, Any]:
    return dict(_context.get({}))


def log_context_bind(**fields: Any) -> None:
    """Add fields to the current context (None values are ignored)."""
    current = _context.get({})
    _context.set({**current, **{k: v for k, v in fields.items() if v is not None}})


def log_context_clear() -> None:
    _context.set({})


@contextmanager
def log_context_scope(**fields: Any) -> Iterator[None]:
    token = _context.set({k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)


# --- Secrets never reach a log ------------------------------------------------------------------

_SECRET_PATTERNS = (
    # Authorization: Basic abc / Bearer abc (in headers dumped as text or dict reprs)
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 [redacted]"),
    # key=value / "key": "value" for anything named like a key, secret, token or password
    (
        re.compile(
            r"(?i)([\"']?[a-z_-]*(?:api[_-]?key|secret|token|password|passwd|authorization)"
            r"[a-z_-]*[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)"
        ),
        r"\1[redacted]",
    ),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_[redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactFilter(logging.Filter):
    """Rewrites the record's message with keys, secrets and Authorization values removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the formatter report it as usual
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class ContextFilter(logging.Filter):
    """Copies the current context onto the record (in the thread that logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get({}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in CONTEXT_FIELDS:
        value = getattr(record, key, None)
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple | set):
            fields[key] = [str(v) for v in value]
        else:
            fields[key] = value if isinstance(value, int | float | bool) else str(value)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            **_fields(record),
        }
        if record.exc_info or record.exc_text:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(line, default=str)


class ReadableFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if not fields:
            return text
        extra = " ".join(
            f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in fields.items()
        )
        first, newline, rest = text.partition("\n")
        return f"{first} [{extra}]{newline}{rest}"


# --- Web requests -----------------------------------------------------------------------------

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
request_logger = logging.getLogger("sfe_portal.request")


class RequestContextMiddleware:
    """Takes the load balancer's X-Request-ID (or makes one), echoes it on the response and
    puts it, the user and the company/expense of the URL into every line the request logs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        started = time.perf_counter()
        with log_context_scope(request_id=request_id):
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            if not request.path.startswith(("/static/", "/healthz")):
                request_logger.info(
                    "%s %s %s %.0fms",
                    request.method,
                    request.path,
                    response.status_code,
                    (time.perf_counter() - started) * 1000,
                )
        return response

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]
    ) -> None:
        # Runs after authentication: the user is known here.
        user = getattr(request, "user", None)
        log_context_bind(
            user=user.get_username() if user is not None and user.is_authenticated else None,
            company_id=kwargs.get("company_id"),
            expense_id=kwargs.get("expense_id"),
            sync_id=kwargs.get("sync_id"),
        )


# --- Celery -----------------------------------------------------------------------------------


def _task_ids(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Ids a task names in its arguments (tasks take ids, never objects)."""
    bound: dict[str, Any]
    try:
        bound = dict(inspect.signature(task.run).bind_partial(*args, **kwargs).arguments)
    except (TypeError, ValueError, AttributeError):
        bound = kwargs
    return {k: bound[k] for k in ("company_id", "expense_id", "sync_id") if k in bound}


def connect_celery_signals() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun

    @before_task_publish.connect(weak=False)
    def _publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
        current = {k: v for k, v in _context.get({}).items() if k in PROPAGATED_FIELDS}
        if headers is not None and current:
            headers[HEADER] = {k: str(v) for k, v in current.items()}

    @task_prerun.connect(weak=False)
    def _prerun(
        task_id: str | None = None,
        task: Any = None,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        inherited = getattr(getattr(task, "request", None), HEADER, None) or {}
        name = getattr(task, "name", "")
        # A task run eagerly (never published) keeps the context of the code that ran it.
        current = {k: v for k, v in _context.get({}).items() if k in PROPAGATED_FIELDS}
        token = _context.set(
            {
                **current,
                **(inherited if isinstance(inherited, dict) else {}),
                **_task_ids(task, tuple(args or ()), kwargs or {}),
                "task_id": task_id,
                "task": name,
            }
        )
        if task_id:
            _task_tokens[task_id] = token

    @task_postrun.connect(weak=False)
    def _postrun(task_id: str | None = None, **_: Any) -> None:
        # Back to what was there before: nothing in a worker, the request's own context for a
        # task run eagerly inside a web request.
        token = _task_tokens.pop(task_id, None) if task_id else None
        if token is not None:
            try:
                _context.reset(token)
                return
            except ValueError:  # set in another context (thread): nothing to restore
                pass
        log_context_clear()
