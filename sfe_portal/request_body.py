"""Reading a request's body up to a limit the endpoint publishes, for the JSON endpoints.

`request.body` refuses anything over `DATA_UPLOAD_MAX_MEMORY_SIZE` with Django's HTML 400 page
(the technical page with DEBUG on), which a machine sender cannot read. The ingest API and the
Codat webhook read their bodies here instead and answer 413 in JSON, naming their own limit.
"""

from __future__ import annotations

from django.http import HttpRequest


class BodyTooLarge(Exception):
    def __init__(self, *, limit: int, size: int | None) -> None:
        self.limit = limit
        self.size = size  # None when the sender did not say (no Content-Length)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        sent = f"{self.size:,} bytes" if self.size is not None else "more than that"
        limit = f"{self.limit:,} bytes ({self.limit / 1024 / 1024:g} MiB)"
        return f"The body may be at most {limit}; this one is {sent}."


def body_within(request: HttpRequest, *, limit: int) -> bytes:
    """The body, or `BodyTooLarge` when it holds more than `limit` bytes. A Content-Length over
    the limit is refused before anything is read; otherwise at most one byte past it is."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BodyTooLarge(limit=limit, size=declared)
    body = request.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge(limit=limit, size=None)
    return body
