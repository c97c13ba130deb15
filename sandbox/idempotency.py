"""`Idempotency-Key`, as Codat documents it (docs.codat.io/using-the-api/write-data/idempotency):

- a POST or PATCH may carry an `Idempotency-Key` header holding a GUID;
- Codat caches the first answer for 90 minutes and gives it again to every request with that key
  (the same syncId: nothing is written twice);
- the same key while the first request is still in progress: 409 Conflict;
- the same key on another request (another body, path or method): 422 Unprocessable Content;
- 429 answers are not cached; every other answer is, deterministic 4xx and 5xx included.

Keys are per company: the scope is the company id of the path (empty outside a company). A PUT
carries no key in Codat's documentation ("You can only include the Idempotency-Key header in POST
or PATCH requests"), so the sandbox ignores the header on a PUT: a client must not count on it
there. The key, the request's digest and the first answer live in `SandboxIdempotencyKey`, so
every process of the sandbox sees them. The clock is `clock.now`, replaceable in tests.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from sandbox.errors import ApiError
from sandbox.models import IdempotencyState, SandboxIdempotencyKey

WINDOW = timedelta(minutes=90)
METHODS = frozenset({"POST", "PATCH"})
HEADER = "Idempotency-Key"


@dataclass
class Clock:
    now: Callable[[], datetime] = field(default=timezone.now)


clock = Clock()


@dataclass(frozen=True)
class Claim:
    """A key this request holds while it runs: its answer is stored with `finish`."""

    row_id: int


def _digest(request: HttpRequest) -> str:
    """What "the same body" means: the raw bytes of a JSON body; for a multipart upload, its
    fields and files (the boundary differs on every retry of the same upload)."""
    digest = hashlib.sha256()
    if (request.content_type or "").startswith("multipart/"):
        for name in sorted(request.POST):
            digest.update(f"field:{name}={request.POST.getlist(name)}".encode())
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                digest.update(f"file:{name}:{upload.name}:{upload.size}".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(request.body)
    return digest.hexdigest()


def _scope(company_id: object) -> str:
    try:
        return str(uuid.UUID(str(company_id)))
    except ValueError:
        return str(company_id)[:100]


def begin(request: HttpRequest, company_id: object | None) -> Claim | HttpResponse | None:
    """Before the operation runs: None when the request carries no key (or is not a POST or
    PATCH), the cached answer for a repeat, or a `Claim` on the key. Raises 400 for a key that
    is not a GUID, 409 while the first request is in flight, 422 for a different request."""
    raw = request.headers.get(HEADER)
    if raw is None or request.method not in METHODS:
        return None
    try:
        key = str(uuid.UUID(raw.strip()))
    except ValueError:
        raise ApiError(
            400,
            f"The {HEADER} header must be a GUID, such as {uuid.uuid4()}.",
            can_be_retried="No",
        ) from None
    scope = "" if company_id is None else _scope(company_id)
    now = clock.now()
    SandboxIdempotencyKey.objects.filter(created__lt=now - WINDOW).delete()
    digest = _digest(request)
    method, path = request.method or "", request.path
    try:
        with transaction.atomic():
            row = SandboxIdempotencyKey.objects.create(
                scope=scope, key=key, method=method, path=path, body_digest=digest, created=now
            )
        return Claim(row.pk)
    except IntegrityError:
        pass
    existing = SandboxIdempotencyKey.objects.filter(scope=scope, key=key).first()
    if existing is None:  # expired and swept between the two queries: a fresh start
        return begin(request, company_id)
    if (existing.method, existing.path, existing.body_digest) != (method, path, digest):
        raise ApiError(
            422,
            f"The {HEADER} {key} was already used with a different request "
            f"({existing.method} {existing.path}): a key may only be reused to retry the same "
            "request with the same body.",
            can_be_retried="No",
        )
    if existing.state == IdempotencyState.IN_FLIGHT:
        raise ApiError(
            409,
            f"A request with the {HEADER} {key} is still in progress: retry once it has "
            "finished to get its answer.",
            can_be_retried="Yes",
        )
    return HttpResponse(
        bytes(existing.body or b""),
        status=existing.status_code or 200,
        content_type=existing.content_type or None,
    )


def finish(claim: Claim, response: HttpResponse) -> None:
    """Keep the first answer under the key; a 429 is not kept, so a retry runs afresh."""
    if response.status_code == 429:
        abandon(claim)
        return
    SandboxIdempotencyKey.objects.filter(pk=claim.row_id).update(
        state=IdempotencyState.DONE,
        status_code=response.status_code,
        content_type=response.get("Content-Type", ""),
        body=response.content,
        completed=clock.now(),
    )


def abandon(claim: Claim) -> None:
    """The request never reached the operation (a timeout on the way in): nothing is kept."""
    SandboxIdempotencyKey.objects.filter(pk=claim.row_id).delete()
