"""Codat's published OpenAPI documents, kept in the repository at `codat/openapi/` (its README
says where they come from). A missing or unreadable document fails the test that needs it: the
conformance tests are what prove the client and the sandbox match Codat, so they never skip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
