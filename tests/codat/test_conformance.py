"""The checker that holds the client's requests to Codat's v1 OpenAPI document."""

from __future__ import annotations

import pytest
import requests

from tests.codat.conformance import (
    KNOWN_SPEC_DEFECTS,
    NON_EXPENSES_ENDPOINTS,
    NON_V1_ENDPOINTS,
    NonConformingRequest,
    assert_conforms,
    check_request,
)
from tests.codat.conftest import COMPANY_ID, CONNECTION_ID, SYNC_ID, TRANSACTION_ID

AUTH = {"Authorization": "Basic dGVzdA=="}


def prepared(method: str, url: str, **kwargs: object) -> requests.PreparedRequest:
    headers = {**AUTH, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return requests.Request(method, url, headers=headers, **kwargs).prepare()  # type: ignore[arg-type]


def test_a_conforming_request_is_validated():
    result = check_request(
        prepared(
            "POST",
            f"https://api.codat.io/companies/{COMPANY_ID}/sync/expenses/syncs",
            json={"datasetIds": [SYNC_ID]},
        )
    )

    assert result.validated
    assert result.skipped_reason is None


def test_a_body_the_schema_forbids_is_reported():
    request = prepared(
        "POST",
        f"https://api.codat.io/companies/{COMPANY_ID}/sync/expenses/syncs",
        json={"datasetIds": [SYNC_ID], "unexpected": 1},
    )

    with pytest.raises(NonConformingRequest, match="unexpected"):
        check_request(request)


def test_a_request_without_authorization_is_reported():
    request = requests.Request("GET", f"https://api.codat.io/companies/{COMPANY_ID}").prepare()

    with pytest.raises(NonConformingRequest, match="Security"):
        check_request(request)


def test_an_id_that_is_not_a_uuid_is_reported():
    with pytest.raises(NonConformingRequest, match="companyId"):
        check_request(prepared("GET", "https://api.codat.io/companies/not-a-uuid"))


def test_a_path_in_neither_the_document_nor_the_skip_list_is_reported():
    with pytest.raises(NonConformingRequest):
        check_request(prepared("GET", f"https://api.codat.io/companies/{COMPANY_ID}/data/invoices"))


@pytest.mark.parametrize(("method", "template"), NON_V1_ENDPOINTS)
def test_platform_endpoints_outside_the_v1_document_are_skipped_by_name(method, template):
    url = "https://api.codat.io" + template.replace("{companyId}", COMPANY_ID).replace(
        "{connectionId}", CONNECTION_ID
    )

    result = check_request(prepared(method, url))

    assert not result.validated
    assert template in result.skipped_reason


def test_requests_to_an_emulator_under_a_prefix_are_checked_by_their_codat_path():
    request = prepared("GET", f"http://127.0.0.1:8000/codat-sandbox/companies/{COMPANY_ID}")

    result = check_request(request, base_url="http://127.0.0.1:8000/codat-sandbox")

    assert result.validated
    assert result.path == f"/companies/{COMPANY_ID}"


def test_the_attachment_part_must_still_be_named_file():
    url = (
        f"https://api.codat.io/companies/{COMPANY_ID}/sync/expenses/syncs/{SYNC_ID}"
        f"/transactions/{TRANSACTION_ID}/attachments"
    )

    assert check_request(
        prepared("POST", url, files={"file": ("r.pdf", b"%PDF", "application/pdf")})
    ).validated
    with pytest.raises(NonConformingRequest, match="file"):
        check_request(
            prepared("POST", url, files={"fileName": ("r.pdf", b"%PDF", "application/pdf")})
        )


def test_all_failures_are_reported_together():
    bad = prepared("GET", "https://api.codat.io/companies/nope")

    with pytest.raises(NonConformingRequest) as raised:
        assert_conforms([bad, bad])

    assert str(raised.value).count("does not conform") == 2


def test_every_known_defect_is_named_and_explained():
    names = [defect.name for defect in KNOWN_SPEC_DEFECTS]

    assert len(names) == len(set(names))
    assert all(defect.reason for defect in KNOWN_SPEC_DEFECTS)


def test_the_expenses_document_takes_a_bare_array_and_refuses_v1s_envelope():
    url = f"https://api.codat.io/companies/{COMPANY_ID}/sync/expenses/expense-transactions"
    item = {"id": TRANSACTION_ID, "type": "Payment", "issueDate": "2024-05-21", "currency": "GBP"}

    assert check_request(prepared("POST", url, json=[item]), document="expenses").validated
    with pytest.raises(NonConformingRequest, match="expenses document"):
        check_request(prepared("POST", url, json={"items": [item]}), document="expenses")


@pytest.mark.parametrize(("method", "template"), NON_EXPENSES_ENDPOINTS)
def test_accounting_reads_outside_the_expenses_document_are_skipped_by_name(method, template):
    url = "https://api.codat.io" + template.replace("{companyId}", COMPANY_ID).replace(
        "{connectionId}", CONNECTION_ID
    )

    result = check_request(prepared(method, url), document="expenses")

    assert not result.validated
    assert template in result.skipped_reason
