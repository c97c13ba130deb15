"""Check requests and responses against Codat's newer OpenAPI document,
Codat-Sync-Expenses.json (title "Expenses"), as `tests/sandbox/spec.py` does for v1 responses
and `tests/codat/conformance.py` for v1 requests.

The document's own known defects are listed in ONE place, `KNOWN_SPEC_DEFECTS`, each with the
reason, and tolerated nowhere else: every other difference fails the test. Paths outside the
document (the accounting-data reads the sandbox serves beside it) are reported, never passed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jsonschema.exceptions import ValidationError
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30Validator
from openapi_schema_validator._format import oas30_format_checker
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.codat_openapi import EXPENSES_DOCUMENT, read_document

BASE = "/codat-sandbox"
SPEC_SERVER = "https://api.codat.io"


@dataclass(frozen=True)
class Defect:
    """A known error of the document: how a response check recognises it (`matches`), and how
    the document is patched for request checks (`patch`)."""

    name: str
    why: str
    matches: Callable[[str, str, int, ValidationError | None], bool] = lambda *_: False
    patch: Callable[[dict[str, Any]], None] | None = None


def _path_has(error: ValidationError | None, part: str) -> bool:
    return error is not None and part in [str(p) for p in error.absolute_path]


def _binary_part_as_any(spec: dict[str, Any]) -> None:
    spec["components"]["schemas"]["AttachmentUpload"]["definitions"]["codatFile"] = {
        "description": "The file to be uploaded as an attachment (any bytes)."
    }


_IDEMPOTENT = ("post", "patch")


KNOWN_SPEC_DEFECTS: list[Defect] = [
    Defect(
        "idempotency-409-422-undocumented",
        "Codat's idempotency guide documents 409 (the key's first request still in progress) and "
        "422 (the key reused with another body) for every POST and PATCH, but the operations "
        "list neither. Such answers are validated against ErrorMessage instead.",
        matches=lambda op, method, status, error: (
            method in _IDEMPOTENT and status in (409, 422) and error is None
        ),
    ),
    Defect(
        "Transactions-additionalProperties-beside-allOf",
        "As in v1 (API-NOTES §2.3 (10)): the list is `results` plus PagingInfo, but the schema "
        "puts additionalProperties: false beside its allOf, which no object with any property "
        "can satisfy. The allOf parts are still validated.",
        matches=lambda op, method, status, error: (
            op.endswith("/syncs/{syncId}/transactions")
            and error is not None
            and error.validator == "additionalProperties"
            and list(error.absolute_path) == []
        ),
    ),
    Defect(
        "pageSize-maximum-2000",
        "As in v1 (API-NOTES §2.5): PagingInfo.pageSize says maximum 2000 while the pageSize "
        "parameter allows 5000.",
        matches=lambda op, method, status, error: (
            error is not None
            and error.validator == "maximum"
            and list(error.absolute_path) == ["pageSize"]
            and error.instance <= 5000
        ),
    ),
    Defect(
        "customer-defaultCurrency-not-nullable",
        "Customer.defaultCurrency is a bare $ref to the account prototype's non-nullable currency "
        "string, while Supplier.defaultCurrency is `nullable: true`; customers with no default "
        "currency exist on every platform and Codat sends null for them.",
        matches=lambda op, method, status, error: (
            op.startswith("/companies/{companyId}/data/customers")
            and error is not None
            and error.instance is None
            and _path_has(error, "defaultCurrency")
        ),
    ),
    Defect(
        "attachment-file-binary-in-3.1",
        "AttachmentUpload.file is declared `type: string, format: binary`, the OpenAPI 3.0 "
        "idiom, in a 3.1 document; a 3.1 request validator sees the part's bytes and rejects "
        "them as not a string. The `file` part stays required.",
        patch=_binary_part_as_any,
    ),
]


@cache
def spec() -> dict[str, Any]:
    return read_document(EXPENSES_DOCUMENT)


@cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
        routes.append((re.compile(f"^{pattern}$"), template))
    # Literal segments win over parameters (`syncs/latest/status` before `syncs/{syncId}/status`).
    routes.sort(key=lambda r: r[1].count("{"))
    return routes


def operation_for(path: str) -> str | None:
    path = urlsplit(path).path
    if BASE in path:
        path = path.split(BASE, 1)[1]
    for pattern, template in _routes():
        if pattern.match(path):
            return template
    return None


def _validator(schema: dict[str, Any]) -> OAS30Validator:
    root = dict(spec())
    root.update(schema)
    return OAS30Validator(root, format_checker=oas30_format_checker)


def response_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    """Every way a response differs from the newer document, after its known defects."""
    method = method.lower()
    template = operation_for(path)
    if template is None:
        return [f"{method.upper()} {path} is not an operation of the Expenses document"]
    operation = spec()["paths"][template].get(method)
    if operation is None:
        return [f"{method.upper()} {template} is not in the Expenses document"]
    declared = operation["responses"].get(str(status))
    if declared is None:
        if not any(d.matches(template, method, status, None) for d in KNOWN_SPEC_DEFECTS):
            return [f"{method.upper()} {template} does not document status {status}"]
        declared = {"$ref": "#/components/responses/BadRequest"}  # an ErrorMessage
    if "$ref" in declared:
        declared = spec()["components"]["responses"][declared["$ref"].rsplit("/", 1)[-1]]
    schema = (declared.get("content") or {}).get("application/json", {}).get("schema")
    if schema is None:
        return [] if body is None else [f"{template} {status} should have no body"]
    problems = []
    for error in _validator(schema).iter_errors(body):
        if any(d.matches(template, method, status, error) for d in KNOWN_SPEC_DEFECTS):
            continue
        problems.append(
            f"{method.upper()} {template} {status}: {error.message} at {list(error.absolute_path)}"
        )
    return problems


@cache
def _openapi() -> OpenAPI:
    patched = copy.deepcopy(spec())
    for defect in KNOWN_SPEC_DEFECTS:
        if defect.patch is not None:
            defect.patch(patched)
    return OpenAPI.from_dict(patched)


class _SpecRequest:
    """A request re-rooted on the document's server, as openapi-core reads requests."""

    host_url = SPEC_SERVER

    def __init__(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes | None
    ) -> None:
        self.method = method.lower()
        self.path = path
        self.body = body
        self.content_type = headers.get("content-type", headers.get("Content-Type", ""))
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(query, keep_blank_values=True)),
            header=Headers(headers),
            cookie=ImmutableMultiDict(),
        )


def request_problems(
    method: str, url: str, headers: dict[str, str], body: bytes | None
) -> list[str]:
    """Every way a request breaks the newer document (its path, parameters and body)."""
    parts = urlsplit(url)
    path = parts.path.split(BASE, 1)[1] if BASE in parts.path else parts.path
    if operation_for(path) is None:
        return [f"{method.upper()} {path} is not an operation of the Expenses document"]
    try:
        _openapi().validate_request(_SpecRequest(method, path, parts.query, headers, body or None))
    except Exception as exc:
        cause = exc.__cause__
        details = [str(error).split("\n", 1)[0] for error in getattr(cause, "schema_errors", ())]
        return [f"{method.upper()} {path}: {exc}" + (f" ({'; '.join(details)})" if details else "")]
    return []
