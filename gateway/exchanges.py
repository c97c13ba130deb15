"""The portal's way to Codat: a client built from settings whose every exchange is kept as a
`CodatExchange` row for support (method, path, status, timing, correlation id, bodies cut
short, secrets redacted — never the key)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import requests
from django.conf import settings
from django.utils import timezone

from codat import CodatClient, Exchange
from gateway.models import CodatExchange
from gateway.redaction import redact
from sfe_portal.logs import log_context_bind

logger = logging.getLogger(__name__)

_BODY_LIMIT = 4000

# Set only by the demo seed, which runs before any web server listens: its session carries the
# requests in-process to the embedded sandbox, so the same services and HTTP code paths run.
_session_override: ContextVar[requests.Session | None] = ContextVar(
    "codat_session_override", default=None
)


@contextmanager
def codat_session(session: requests.Session) -> Iterator[None]:
    """Make every client built inside the block use `session` (the seed's in-process one)."""
    token = _session_override.set(session)
    try:
        yield
    finally:
        _session_override.reset(token)


def codat_threads_allowed() -> bool:
    """Whether calls may run from several threads at once: not on the seed's one in-process
    session, which is not safe to share between threads."""
    return _session_override.get() is None


def _exchange_row(company_id: int | None, exchange: Exchange) -> CodatExchange:
    # The client scrubs its key; the webhook secret it does not know is scrubbed here, before
    # anything is stored, so an echo of either never reaches the table or the admin.
    path = exchange.path + (f"?{exchange.query}" if exchange.query else "")
    return CodatExchange(
        company_id=company_id,
        method=exchange.method[:8],
        path=redact(path)[:1000],
        status=exchange.status,
        duration_ms=max(0, exchange.duration_ms),
        correlation_id=(exchange.correlation_id or "")[:200],
        # Redacted before cutting short, so a secret is never half kept.
        request_body=redact(exchange.request_body or "")[:_BODY_LIMIT],
        response_body=redact(exchange.response_body or "")[:_BODY_LIMIT],
        error=redact(exchange.error or "")[:500],
        idempotency_key=(exchange.idempotency_key or "")[:64],
        created_at=exchange.at or timezone.now(),
    )


def exchange_record(*, company_id: int | None, exchange: Exchange) -> CodatExchange:
    row = _exchange_row(company_id, exchange)
    row.save(force_insert=True)
    return row


def codat_exchange_observe(*, company_id: int | None, exchange: Exchange) -> None:
    """Keep the exchange for support and log it."""
    exchange_record(company_id=company_id, exchange=exchange)
    _exchange_log(company_id, exchange)


def codat_exchanges_observe(*, company_id: int | None, exchanges: Sequence[Exchange]) -> None:
    """`codat_exchange_observe` for several exchanges at once (those a thread that does not
    touch the database kept): one insert for them all."""
    if not exchanges:
        return
    CodatExchange.objects.bulk_create([_exchange_row(company_id, e) for e in exchanges])
    for exchange in exchanges:
        _exchange_log(company_id, exchange)


def _exchange_log(company_id: int | None, exchange: Exchange) -> None:
    # Later lines of this task or request name the Codat call they followed.
    log_context_bind(codat_correlation_id=exchange.correlation_id or None)
    logger.info(
        "Codat %s %s answered %s in %sms",
        exchange.method,
        exchange.path,
        exchange.status if exchange.status is not None else (exchange.error or "no answer"),
        exchange.duration_ms,
        extra={"company_id": company_id},
    )


def codat_client(
    *, company_id: int | None = None, keep_exchanges: list[Exchange] | None = None
) -> CodatClient:
    """A client for `settings.CODAT_BASE_URL` that records each exchange against the company.

    With `keep_exchanges`, exchanges are appended there instead of recorded: a client used from
    a thread that must not touch the database; the caller records them with
    `codat_exchange_observe` afterwards.
    """

    def record(exchange: Exchange) -> None:
        if keep_exchanges is not None:
            keep_exchanges.append(exchange)
        else:
            codat_exchange_observe(company_id=company_id, exchange=exchange)

    return CodatClient(
        settings.CODAT_BASE_URL,
        settings.CODAT_API_KEY,
        timeout=(5.0, settings.CODAT_TIMEOUT_S),
        session=_session_override.get(),
        on_exchange=record,
    )
