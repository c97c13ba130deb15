"""Codat's published OpenAPI documents, kept in the repository at `codat/openapi/` (its README
says where they come from). A missing or unreadable document fails the test that needs it: the
conformance tests are what prove the client and the sandbox match Codat, so they never skip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator, oas31_format_checker

OPENAPI_DIR = Path(__file__).resolve().parents[1] / "codat" / "openapi"
V1_DOCUMENT = OPENAPI_DIR / "Codat-Sync-Expenses-v1.json"
EXPENSES_DOCUMENT = OPENAPI_DIR / "Codat-Sync-Expenses.json"


def read_document(path: Path) -> dict[str, Any]:
    if not path.is_file():
        pytest.fail(
            f"Codat's OpenAPI document {path.name} is missing from {OPENAPI_DIR}: "
            "codat/openapi/README.md says where to take it from"
        )
    return dict(json.loads(path.read_text(encoding="utf-8")))


def strict_validator(path: Path, *, request: str, closed: tuple[str, ...]) -> OAS31Validator:
    """A validator of the `request` schema of the document at `path`, with the `closed`
    schemas refusing properties they do not declare: the documents allow extra properties, and
    refusing them catches a misspelled field."""
    spec = read_document(path)
    schemas = spec["components"]["schemas"]
    for name in closed:
        schemas[name]["additionalProperties"] = False
    root = {**spec, "$ref": f"#/components/schemas/{request}"}
    return OAS31Validator(root, format_checker=oas31_format_checker)
