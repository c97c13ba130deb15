"""Check requests against Codat's official OpenAPI documents: v1, and the newer "Expenses".

Reusable: unit tests pass the `PreparedRequest`s that `responses` captured, and integration
tests can pass the ones the client sends to the project's emulator (give `base_url` so the
emulator's prefix is stripped before matching the document's paths). `document` names the
generation to check against: "v1" (the default) or "expenses".

The document is Codat's own, kept in the repository at `codat/openapi/` (a missing one fails
the check, never skips it). Its known defects are patched in one place, `KNOWN_SPEC_DEFECTS`;
endpoints the portal uses that are not part of the v1 document are listed in `NON_V1_ENDPOINTS`
and reported as skipped, never silently passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import requests
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.codat_openapi import EXPENSES_DOCUMENT, V1_DOCUMENT, read_document

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = V1_DOCUMENT
SPEC_SERVER = "https://api.codat.io"

Document = Literal["v1", "expenses"]


@dataclass(frozen=True)
class SpecDefect:
    """A known error in the v1 document, and the patch that makes the checker tolerate it."""

    name: str
    reason: str
    patch: Callable[[dict[str, Any]], None]


def _binary_part_as_any(spec: dict[str, Any]) -> None:
    spec["components"]["schemas"]["AttachmentUpload"]["definitions"]["codatFile"] = {
        "description": "The file to be uploaded as an attachment (any bytes)."
    }


def _initiate_sync_202(spec: dict[str, Any]) -> None:
    responses = spec["paths"]["/companies/{companyId}/sync/expenses/syncs"]["post"]["responses"]
    responses["202"] = {
        "description": "Sync initiated",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SyncInitiated"}}},
    }


def _transaction_type_max_length(spec: dict[str, Any]) -> None:
    info = spec["components"]["schemas"]["AccountMappingInfo"]["properties"]
    info["validTransactionTypes"]["items"].pop("maxLength", None)


KNOWN_SPEC_DEFECTS: tuple[SpecDefect, ...] = (
    SpecDefect(
        name="attachment-file-binary-in-3.1",
        reason=(
            "AttachmentUpload.file is declared `type: string, format: binary`, the OpenAPI 3.0 "
            "idiom, in a 3.1 document; a 3.1 validator sees the part's bytes and rejects them as "
            "not a string. The `file` part stays required."
        ),
        patch=_binary_part_as_any,
    ),
    SpecDefect(
        name="initiate-sync-no-success-response",
        reason=(
            "initiate-sync lost its 202 SyncInitiated response in a 2023 linting commit; the "
            "real service still answers 202 {syncId} (API-NOTES §0.1)."
        ),
        patch=_initiate_sync_202,
    ),
    SpecDefect(
        name="valid-transaction-types-max-length-8",
        reason=(
            "AccountMappingInfo.validTransactionTypes items have maxLength 8, shorter than "
            "enum values such as `Chargeback` (API-NOTES §0.3)."
        ),
        patch=_transaction_type_max_length,
    ),
)

# Platform endpoints the portal reads that the v1 document does not describe (API-NOTES §2.6).
NON_V1_ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("GET", "/companies/{companyId}/data/info"),
    ("GET", "/companies/{companyId}/data/accounts"),
    ("GET", "/companies/{companyId}/connections/{connectionId}/data/bankAccounts"),
    ("GET", "/companies/{companyId}/data/suppliers"),
    ("GET", "/companies/{companyId}/data/customers"),
    ("GET", "/companies/{companyId}/data/trackingCategories"),
    ("GET", "/companies/{companyId}/data/taxRates"),
    ("POST", "/companies/{companyId}/data/all"),
    ("GET", "/companies/{companyId}/dataStatus"),
)


KNOWN_EXPENSES_SPEC_DEFECTS: tuple[SpecDefect, ...] = ()

# Accounting reads the portal makes that the Expenses document does not describe either
# (EXPENSES-API-NOTES §1.4): they belong to neither expenses generation.
NON_EXPENSES_ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("GET", "/companies/{companyId}/data/accounts"),
    ("GET", "/companies/{companyId}/connections/{connectionId}/data/bankAccounts"),
    ("GET", "/companies/{companyId}/data/trackingCategories"),
    ("GET", "/companies/{companyId}/data/taxRates"),
)


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def _patterns(
    endpoints: tuple[tuple[str, str], ...],
) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    return tuple((method, template, _template_regex(template)) for method, template in endpoints)


_SKIPPED = {"v1": _patterns(NON_V1_ENDPOINTS), "expenses": _patterns(NON_EXPENSES_ENDPOINTS)}
_DOCUMENTS = {
    "v1": (SPEC_PATH, KNOWN_SPEC_DEFECTS),
    "expenses": (EXPENSES_DOCUMENT, KNOWN_EXPENSES_SPEC_DEFECTS),
}


@cache
def _openapi(document: Document = "v1") -> OpenAPI:
    path, defects = _DOCUMENTS[document]
    patched = read_document(path)
    for defect in defects:
        defect.patch(patched)
    return OpenAPI.from_dict(patched)


@dataclass(frozen=True)
class CheckResult:
    method: str
    path: str
    validated: bool
    skipped_reason: str | None = None


class NonConformingRequest(AssertionError):
    pass


class _SpecRequest:
    """A `PreparedRequest` re-rooted on the document's server, as openapi-core reads requests."""

    def __init__(self, request: requests.PreparedRequest, path: str, query: str) -> None:
        self._request = request
        self._path = path
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(query, keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )

    host_url = SPEC_SERVER

    @property
    def path(self) -> str:
        return self._path

    @property
    def method(self) -> str:
        return (self._request.method or "").lower()

    @property
    def body(self) -> bytes | None:
        body = self._request.body
        if body is None:
            return None
        if isinstance(body, str):
            return body.encode("utf-8")
        if isinstance(body, bytes):
            return body
        raise TypeError(f"cannot validate a streamed body ({type(body).__name__}); read it first")

    @property
    def content_type(self) -> str:
        return str(self._request.headers.get("Content-Type") or "")


def check_request(
    request: requests.PreparedRequest, *, base_url: str = SPEC_SERVER, document: Document = "v1"
) -> CheckResult:
    """Validate one request against a document; raise `NonConformingRequest` if it breaks it.

    Requests to the document's skipped endpoints (`NON_V1_ENDPOINTS`, `NON_EXPENSES_ENDPOINTS`)
    come back with `validated=False` and the reason.
    """
    url = urlsplit(str(request.url))
    base_path = urlsplit(base_url).path.rstrip("/")
    if not url.path.startswith(base_path):
        raise NonConformingRequest(f"{request.url} is not under the base URL {base_url}")
    path = url.path[len(base_path) :] or "/"
    method = (request.method or "").upper()
    for skip_method, template, pattern in _SKIPPED[document]:
        if method == skip_method and pattern.match(path):
            return CheckResult(
                method,
                path,
                False,
                f"{template} is a platform endpoint outside the {document} document",
            )
    try:
        _openapi(document).validate_request(_SpecRequest(request, path, url.query))
    except Exception as exc:
        cause = exc.__cause__
        details = [str(error).split("\n", 1)[0] for error in getattr(cause, "schema_errors", ())]
        raise NonConformingRequest(
            f"{method} {path} does not conform to the {document} document: {exc}"
            + (f" ({'; '.join(details)})" if details else "")
        ) from exc
    return CheckResult(method, path, True)


def assert_conforms(
    requests_sent: list[requests.PreparedRequest],
    *,
    base_url: str = SPEC_SERVER,
    document: Document = "v1",
) -> list[CheckResult]:
    """Check every request; report all the ones that break the document at once."""
    results: list[CheckResult] = []
    failures: list[str] = []
    for request in requests_sent:
        try:
            results.append(check_request(request, base_url=base_url, document=document))
        except NonConformingRequest as exc:
            failures.append(str(exc))
    if failures:
        raise NonConformingRequest("\n".join(failures))
    return results
