"""The card platform's JSON API. Token-authenticated; no session, no CSRF (no cookies)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from companies.models import Company
from companies.platforms import types_taken_in
from expenses.ingest import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    IngestKeyExpired,
    expenses_ingest,
    ingest_token_authenticate,
)
from sfe_portal.request_body import BodyTooLarge, body_within

logger = logging.getLogger(__name__)

# The written part of the document; `ingest_openapi_document` adds what the rules decide.
OPENAPI_PATH = Path(__file__).parent / "openapi" / "ingest-v1.json"
# A batch of flat expenses nests 3 deep. Python's own JSON parser stops at a depth that depends
# on its version, so the limit is set here: a deeper body is refused alike on every Python.
MAX_BODY_DEPTH = 32
TOO_DEEP = (
    'The body nests arrays or objects too deeply to read. Send {"expenses": [...]} '
    "with each expense a flat object."
)


def _error(status: int, field: str, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"errors": [{"field": field, "message": message}]}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in `value` nest more than `limit` deep (walked without
    recursion, so any depth is measured)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _bearer(request: HttpRequest) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@csrf_exempt
@login_not_required
@require_POST
def ingest_expenses(request: HttpRequest, company_id: int) -> JsonResponse:
    try:
        token = ingest_token_authenticate(raw=_bearer(request))
    except IngestKeyExpired as expired:
        return _error(
            401,
            "Authorization",
            f"This ingest key expired at {expired.token.expires_at:%Y-%m-%d %H:%M} UTC: ask "
            "support for a new key (they create keys in the admin under Ingest tokens).",
            **{"WWW-Authenticate": 'Bearer realm="sfe-portal", error="invalid_token"'},
        )
    if token is None:
        return _error(
            401,
            "Authorization",
            "Send 'Authorization: Bearer <key>' with an active ingest key; support creates "
            "keys in the admin under Ingest tokens.",
            **{"WWW-Authenticate": 'Bearer realm="sfe-portal"'},
        )
    company = Company.objects.filter(pk=company_id).first()
    if company is None or (token.company_id is not None and token.company_id != company.pk):
        return _error(404, "company_id", f"No company {company_id} is open to this key.")
    if request.content_type != "application/json":
        return _error(
            415, "Content-Type", "Send the body as JSON with Content-Type application/json."
        )
    try:
        raw_body = body_within(request, limit=MAX_BODY_BYTES)
    except BodyTooLarge as too_large:
        message = f"{too_large.message} Send the expenses in smaller batches."
        return JsonResponse(
            {"errors": [{"field": "body", "message": message}], "max_bytes": MAX_BODY_BYTES},
            status=413,
        )
    try:
        body: Any = json.loads(raw_body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(
            400, "body", f'The body is not valid JSON ({exc}). Send {{"expenses": [...]}}.'
        )
    except RecursionError:
        return _error(400, "body", TOO_DEEP)
    if _nests_deeper_than(body, MAX_BODY_DEPTH):
        return _error(400, "body", TOO_DEEP)
    items = body.get("expenses") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return _error(400, "expenses", "Send an object with a non-empty 'expenses' array.")
    if len(items) > MAX_BATCH:
        return _error(
            400, "expenses", f"{len(items)} expenses in one request; send at most {MAX_BATCH}."
        )
    results = expenses_ingest(company=company, items=items)
    for result in results:
        if result.expense_id:
            logger.info(
                "Expense %s ingested (%s)",
                result.expense_id,
                result.outcome,
                extra={"company_id": company.pk, "expense_id": result.expense_id},
            )
    counts = {
        outcome: sum(r.outcome == outcome for r in results)
        for outcome in ("created", "existing", "error")
    }
    status = 200 if not counts["error"] else (422 if counts["error"] == len(results) else 207)
    return JsonResponse(
        {
            "created": counts["created"],
            "existing": counts["existing"],
            "failed": counts["error"],
            "results": [r.as_json() for r in results],
        },
        status=status,
    )


@csrf_exempt  # it changes nothing; a token-less POST must get this answer, not a CSRF page
@login_not_required
def api_not_found(request: HttpRequest, rest: str) -> JsonResponse:
    return _error(
        404,
        "path",
        f"There is no API at /api/{rest}. Send expenses with POST "
        "/api/v1/companies/<company id>/expenses (the document is at /api/v1/openapi.json).",
    )


def ingest_openapi_document() -> dict[str, Any]:
    """The ingest API's OpenAPI document: the written file, with the transaction types the
    platform rules take in as the `type` enum."""
    document: dict[str, Any] = json.loads(OPENAPI_PATH.read_text())
    expense_type = document["components"]["schemas"]["Expense"]["properties"]["type"]
    expense_type["enum"] = [t.value for t in types_taken_in()]
    return document


@login_not_required
@require_GET
def ingest_openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(ingest_openapi_document())
