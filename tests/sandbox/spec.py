"""Validate the sandbox's responses against Codat's official v1 OpenAPI document.

The document is Codat's own, kept in the repository at `codat/openapi/` (a missing one fails the
test, never skips it). The spec's own known defects (API-NOTES §0 and §12) are tolerated through
`KNOWN_SPEC_DEFECTS` and nowhere else: every other difference fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator
from openapi_schema_validator._format import oas30_format_checker

from tests.codat_openapi import V1_DOCUMENT, read_document

BASE = "/codat-sandbox"


@dataclass(frozen=True)
class Defect:
    name: str
    why: str
    matches: Callable[[str, str, int, ValidationError | None], bool]


def _path_has(error: ValidationError | None, part: str) -> bool:
    return error is not None and part in [str(p) for p in error.absolute_path]


KNOWN_SPEC_DEFECTS: list[Defect] = [
    Defect(
        "initiate-sync-202-undocumented",
        "API-NOTES §0.1: a 'Linting rules' commit deleted the 202 SyncInitiated response; the "
        "real service still answers 202 {syncId}. Validated against SyncInitiated instead.",
        lambda op, method, status, error: (
            op.endswith("/sync/expenses/syncs")
            and method == "post"
            and status == 202
            and error is None
        ),
    ),
    Defect(
        "validTransactionTypes-item-maxLength-8",
        "API-NOTES §0.3: the item maxLength of 8 rejects Chargeback, TransferIn, AdjustmentOut…",
        lambda op, method, status, error: (
            error is not None
            and error.validator == "maxLength"
            and _path_has(error, "validTransactionTypes")
        ),
    ),
    Defect(
        "TransactionMetadataList-additionalProperties-beside-allOf",
        "API-NOTES §2.3 (10): the list is `results` plus PagingInfo, but the schema puts "
        "additionalProperties: false beside its allOf, which no object with any property can "
        "satisfy. The allOf parts are still validated.",
        lambda op, method, status, error: (
            op.endswith("/syncs/{syncId}/transactions")
            and error is not None
            and error.validator == "additionalProperties"
            and list(error.absolute_path) == []
        ),
    ),
    Defect(
        "pageSize-maximum-2000",
        "API-NOTES §2.5: PagingInfo.pageSize says maximum 2000 while the pageSize parameter "
        "allows 5000.",
        lambda op, method, status, error: (
            error is not None
            and error.validator == "maximum"
            and list(error.absolute_path) == ["pageSize"]
            and error.instance <= 5000
        ),
    ),
]


@cache
def spec() -> dict[str, Any]:
    return read_document(V1_DOCUMENT)


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
    path = path.split("?", 1)[0]
    if path.startswith(BASE):
        path = path[len(BASE) :]
    for pattern, template in _routes():
        if pattern.match(path):
            return template
    return None


def _validator(schema: dict[str, Any]) -> OAS30Validator:
    root = dict(spec())
    root.update(schema)
    return OAS30Validator(root, format_checker=oas30_format_checker)


def response_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    """Every way the response differs from the spec, after the known defects are set aside."""
    method = method.lower()
    template = operation_for(path)
    if template is None:
        return [f"{method.upper()} {path} is not a v1 operation"]
    operation = spec()["paths"][template].get(method)
    if operation is None:
        return [f"{method.upper()} {template} is not in the spec"]
    declared = operation["responses"].get(str(status))
    if declared is None:
        if any(d.matches(template, method, status, None) for d in KNOWN_SPEC_DEFECTS):
            schema: dict[str, Any] | None = {"$ref": "#/components/schemas/SyncInitiated"}
        else:
            return [f"{method.upper()} {template} does not document status {status}"]
    else:
        if "$ref" in declared:
            name = declared["$ref"].rsplit("/", 1)[-1]
            declared = spec()["components"]["responses"][name]
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
