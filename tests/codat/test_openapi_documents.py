"""Codat's OpenAPI documents travel with the repository, unchanged, so every clone runs every
conformance test."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.codat_openapi import EXPENSES_DOCUMENT, OPENAPI_DIR, V1_DOCUMENT, read_document


@pytest.mark.parametrize(
    ("path", "title", "push"),
    [
        (V1_DOCUMENT, "Sync for Expenses (v1)", "/sync/expenses/data/expense-transactions"),
        (EXPENSES_DOCUMENT, "Expenses", "/sync/expenses/expense-transactions"),
    ],
    ids=["v1", "expenses"],
)
def test_both_generations_of_the_document_are_in_the_repository(path, title, push):
    document = read_document(path)

    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == title
    assert f"/companies/{{companyId}}{push}" in document["paths"]


def test_the_documents_are_the_bytes_their_readme_names():
    readme = (OPENAPI_DIR / "README.md").read_text(encoding="utf-8")
    listed = {
        name: digest
        for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+\.json)$", readme, re.MULTILINE)
    }

    assert listed == {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(OPENAPI_DIR.glob("*.json"))
    }


def test_a_missing_document_fails_rather_than_skips(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="missing"):
        read_document(tmp_path / "Codat-Sync-Expenses-v1.json")
