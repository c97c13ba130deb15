"""Auth, error bodies, paging, querying and the accounting-data reads."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.errors import ApiError
from sandbox.models import SandboxDataStatus, SandboxSettings
from sandbox.query import parse_query
from tests.sandbox.conftest import BASE, Api, link_company, make_company


@pytest.mark.parametrize(
    "header",
    [None, "Basic d3Jvbmc=", "Bearer sandbox-api-key", "sandbox-api-key", "Basic sandbox-api-key"],
)
def test_requests_without_the_right_key_get_codats_401_body(api: Api, header: str | None) -> None:
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = api.client.get(BASE + "/companies", **extra)

    assert response.status_code == 401
    body = response.json()
    assert body["statusCode"] == 401
    assert body["service"] == "PublicApi"
    assert body["error"] == "Unauthorized"
    assert body["correlationId"]


def test_an_unknown_company_is_a_clients_api_404(api: Api) -> None:
    missing = uuid.uuid4()
    body = api.get(f"/companies/{missing}").json()

    assert body["statusCode"] == 404
    assert body["service"] == "ClientsApi"
    assert body["error"] == f"No company was found with ID {missing}"
    assert set(body) == {
        "statusCode",
        "service",
        "error",
        "correlationId",
        "validation",
        "canBeRetried",
        "detailedErrorCode",
    }


def test_an_unknown_path_is_a_json_404_not_a_page(api: Api) -> None:
    response = api.get("/nothing/here")
    assert response.status_code == 404
    assert response.json()["statusCode"] == 404


def test_a_wrong_method_is_refused_with_an_error_body(api: Api) -> None:
    response = api.call("DELETE", "/companies")
    assert response.status_code == 405
    assert response.json()["statusCode"] == 405


def test_company_names_lose_forbidden_characters_and_an_empty_name_is_refused(api: Api) -> None:
    assert api.post("/companies", {"name": "Company (Codat[1])"}).json()["name"] == "Company Codat1"

    response = api.post("/companies", {"name": "()[]"})
    assert response.status_code == 400
    assert response.json()["validation"]["errors"][0]["itemId"] == "Name"


def test_companies_can_be_replaced_patched_and_deleted(api: Api) -> None:
    company_id = make_company(api)
    put = api.put(f"/companies/{company_id}", {"name": "Renamed", "description": "d"})
    assert put.json()["description"] == "d"
    patched = api.call("PATCH", f"/companies/{company_id}", {"tags": {"region": "uk"}})
    assert patched.json()["name"] == "Renamed"
    assert patched.json()["tags"] == {"region": "uk"}

    assert api.call("DELETE", f"/companies/{company_id}").status_code == 204
    assert api.get(f"/companies/{company_id}").status_code == 404


def test_paging_envelope_has_codats_links(api: Api) -> None:
    for index in range(5):
        make_company(api, name=f"Company {index}")

    body = api.get("/companies?page=2&pageSize=2").json()

    assert body["pageNumber"] == 2
    assert body["pageSize"] == 2
    assert body["totalResults"] == 5
    assert len(body["results"]) == 2
    # Relative to the API root, as Codat writes them: base URL + href is the next page.
    assert body["_links"]["self"] == {"href": "/companies"}
    assert body["_links"]["current"]["href"].startswith("/companies?")
    assert body["_links"]["current"]["href"].endswith("page=2&pageSize=2")
    assert body["_links"]["next"]["href"].endswith("page=3&pageSize=2")
    assert body["_links"]["previous"]["href"].endswith("page=1&pageSize=2")
    last = api.get("/companies?page=3&pageSize=2").json()
    assert "next" not in last["_links"]


@pytest.mark.parametrize("query", ["pageSize=0", "pageSize=5001", "page=0", "page=x"])
def test_bad_paging_parameters_are_400(api: Api, query: str) -> None:
    assert api.get(f"/companies?{query}").status_code == 400


def test_list_companies_filters_by_query_and_tags(api: Api) -> None:
    api.post("/companies", {"name": "Alpha", "tags": {"region": "uk"}})
    api.post("/companies", {"name": "Beta", "tags": {"region": "us"}})

    by_name = api.get("/companies", data={"query": "name=alpha"}).json()
    by_tag = api.get("/companies", data={"tags": "region=us"}).json()

    assert [c["name"] for c in by_name["results"]] == ["Alpha"]
    assert by_name["totalResults"] == 1
    assert [c["name"] for c in by_tag["results"]] == ["Beta"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=Active", True),
        ("status=active", True),
        ("status!=Active", False),
        ("metadata.isDeleted=false&&isBankAccount=true", True),
        ("metadata.isDeleted=true||isBankAccount=true", True),
        ("{status=Archived||status=Active}&&currency=GBP", True),
        ("name~current", True),
        ("currentBalance>100", True),
        ("currentBalance<=100", False),
        ("currentBalance>=250.5", True),
        ("modifiedDate>2026-01-01", True),
        ("missing=1", False),
    ],
)
def test_the_query_language(query: str, expected: bool) -> None:
    record = {
        "name": "Business Current Account",
        "status": "Active",
        "currency": "GBP",
        "isBankAccount": True,
        "currentBalance": 250.5,
        "modifiedDate": "2026-01-05T09:00:00Z",
        "metadata": {"isDeleted": False},
    }
    predicate = parse_query(query)
    assert predicate is not None
    assert predicate(record) is expected


@pytest.mark.parametrize(
    "query", ["status", "=Active", "{status=Active", "status=Active&&", "a=b}"]
)
def test_malformed_queries_are_refused(query: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_query(query)
    assert raised.value.status == 400
    assert raised.value.error == "Error parsing query - Malformed query."


def test_a_malformed_query_is_a_400_over_http(api: Api) -> None:
    response = api.get("/companies", data={"query": "name="})
    assert response.status_code == 400
    assert response.json()["error"] == "Error parsing query - Malformed query."


def test_accounting_data_answers_409_before_the_first_refresh(api: Api) -> None:
    company_id = make_company(api)
    connection = api.post(f"/companies/{company_id}/connections", {"platformKey": "qhyg"}).json()

    before_link = api.get(f"/companies/{company_id}/data/accounts")
    assert before_link.status_code == 409
    assert before_link.json()["error"] == "The data set has not been requested."

    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    api.post(f"/_sandbox/companies/{company_id}/connections/{connection['id']}/authorize")
    assert api.get(f"/companies/{company_id}/data/accounts").status_code == 409
    assert (
        api.get(f"/companies/{company_id}/dataStatus").json()["chartOfAccounts"]["currentStatus"]
        == "Queued"
    )

    SandboxDataStatus.objects.filter(company_id=company_id).update(
        available_at=timezone.now() - timedelta(seconds=1),
        first_available_at=timezone.now() - timedelta(seconds=1),
    )
    assert api.get(f"/companies/{company_id}/data/accounts").status_code == 200
    status = api.get(f"/companies/{company_id}/dataStatus").json()
    assert status["chartOfAccounts"]["currentStatus"] == "Complete"
    assert status["chartOfAccounts"]["lastSuccessfulSync"]


def test_refresh_all_is_204_and_keeps_data_readable_while_it_runs(api: Api) -> None:
    linked = link_company(api, "gbol", configure=False)
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)

    response = api.post(f"/companies/{linked.company_id}/data/all")

    assert response.status_code == 204
    assert api.get(f"/companies/{linked.company_id}/data/accounts").status_code == 200
    status = api.get(f"/companies/{linked.company_id}/dataStatus").json()
    assert {s["currentStatus"] for s in status.values()} == {"Queued"}


def test_refresh_all_without_a_linked_connection_is_404(api: Api) -> None:
    company_id = make_company(api)
    assert api.post(f"/companies/{company_id}/data/all").status_code == 404


def test_the_reads_take_codats_documented_query_forms(api: Api) -> None:
    linked = link_company(api, "gbol", configure=False)
    company = f"/companies/{linked.company_id}"

    banks = api.get(
        f"{company}/data/accounts", data={"query": "metadata.isDeleted=false&&isBankAccount=true"}
    ).json()
    cards = api.get(
        f"{company}/data/accounts",
        data={"query": "metadata.isDeleted=false&&isBankAccount=true&&type=liability"},
    ).json()
    active = api.get(f"{company}/data/suppliers", data={"query": "status=Active"}).json()
    name = linked.suppliers[0]["supplierName"]
    named = api.get(
        f"{company}/data/suppliers",
        data={"query": f"metadata.isDeleted=false&&supplierName={name}"},
    ).json()

    assert banks["totalResults"] == 5
    assert {a["type"] for a in cards["results"]} == {"Liability"}
    assert cards["totalResults"] == 2
    assert {s["status"] for s in active["results"]} == {"Active"}
    assert active["totalResults"] == 8
    assert [s["supplierName"] for s in named["results"]] == [name]


def test_single_records_and_bank_accounts_are_readable(api: Api) -> None:
    linked = link_company(api, "akxx", configure=False)
    company = f"/companies/{linked.company_id}"
    account = linked.accounts[0]

    assert api.get(f"{company}/data/accounts/{account['id']}").json() == account
    assert api.get(f"{company}/data/accounts/nope").status_code == 404
    banks = api.get(f"{company}/connections/{linked.connection_id}/data/bankAccounts").json()
    assert {b["currency"] for b in banks["results"]} == {"USD", "EUR"}
    assert {b["accountType"] for b in banks["results"]} == {"Debit", "Credit"}
    assert api.get(f"{company}/connections/{uuid.uuid4()}/data/bankAccounts").status_code == 404


def test_connections_are_listed_unlinked_and_deleted(api: Api) -> None:
    linked = link_company(api, "gbol", configure=False)
    path = f"/companies/{linked.company_id}/connections"

    listed = api.get(path).json()
    assert {c["sourceType"] for c in listed["results"]} == {"Accounting", "Expense"}
    unlinked = api.call("PATCH", f"{path}/{linked.connection_id}", {"status": "Unlinked"})
    assert unlinked.json()["status"] == "Unlinked"
    assert (
        api.call("PATCH", f"{path}/{linked.connection_id}", {"status": "Gone"}).status_code == 400
    )

    deleted = api.call("DELETE", f"{path}/{linked.connection_id}")
    assert deleted.status_code == 200
    assert deleted.content == b""
    assert api.get(f"{path}/{linked.connection_id}").status_code == 404


def test_create_connection_refuses_unknown_platforms(api: Api) -> None:
    company_id = make_company(api)
    assert (
        api.post(f"/companies/{company_id}/connections", {"platformKey": "mqjo"}).status_code == 400
    )
    assert (
        api.post(f"/companies/{company_id}/connections", {"platformKey": "XERO"}).status_code == 400
    )
    assert api.post(f"/companies/{company_id}/connections", {}).status_code == 400


def test_the_partner_expense_connection_is_linked_at_once_and_created_once(api: Api) -> None:
    company_id = make_company(api)
    first = api.post(f"/companies/{company_id}/sync/expenses/connections/partnerExpense").json()
    second = api.post(f"/companies/{company_id}/sync/expenses/connections/partnerExpense").json()

    assert first["status"] == "Linked"
    assert first["sourceType"] == "Expense"
    assert first["platformName"] == "Partner Expense"
    assert second["id"] == first["id"]


def test_configuration_is_404_until_saved_and_validated_when_saved(api: Api) -> None:
    linked = link_company(api, "gbol", configure=False)
    path = f"/companies/{linked.company_id}/sync/expenses/config"

    assert api.get(path).status_code == 404
    missing = api.post(path, {"bankAccount": {"id": "1"}})
    assert missing.status_code == 400
    assert {e["itemId"] for e in missing.json()["validation"]["errors"]} == {"Supplier", "Customer"}
    body = {"bankAccount": {"id": "89"}, "supplier": {"id": "124"}, "customer": {"id": "140"}}
    assert api.post(path, body).json() == body
    assert api.get(path).json() == body


def test_the_link_page_authorizes_in_one_click(api: Api) -> None:
    company_id = make_company(api)
    connection = api.post(f"/companies/{company_id}/connections", {"platformKey": "trji"}).json()
    link = connection["linkUrl"].replace("http://testserver", "")

    page = api.client.get(link)
    assert page.status_code == 200
    assert b"Authorize Dynamics 365 Business Central" in page.content
    api.client.post(link)

    assert api.get(f"/companies/{company_id}/connections/{connection['id']}").json()["status"] == (
        "Linked"
    )
    assert api.get(f"/companies/{company_id}/data/info").json()["baseCurrency"] == "EUR"


def test_list_companies_filters_on_a_connection_property(api: Api) -> None:
    linked = link_company(api, "gbol", configure=False)
    pending = make_company(api, name="Pending Co")
    api.post(f"/companies/{pending}/connections", {"platformKey": "qhyg"})

    waiting = api.get("/companies", data={"query": "dataConnections.status=PendingAuth"}).json()
    not_waiting = api.get(
        "/companies", data={"query": "dataConnections.status!=PendingAuth"}
    ).json()

    assert [c["id"] for c in waiting["results"]] == [pending]
    assert [c["id"] for c in not_waiting["results"]] == [linked.company_id]


def test_an_unlinked_connection_can_be_authorized_again_without_reseeding(api: Api) -> None:
    linked = link_company(api, "gbol", configure=False)
    path = f"/companies/{linked.company_id}/connections"
    account = linked.account("Bank Fees")
    api.post(
        f"/_sandbox/companies/{linked.company_id}/records/chartOfAccounts/{account['id']}",
        {"name": "Bank Charges"},
    )
    partner = next(c for c in api.get(path).json()["results"] if c["sourceType"] == "Expense")
    for connection_id in (linked.connection_id, partner["id"]):
        api.call("PATCH", f"{path}/{connection_id}", {"status": "Unlinked"})
        link = api.get(f"{path}/{connection_id}").json()["linkUrl"].replace("http://testserver", "")
        api.client.post(link)
        assert api.get(f"{path}/{connection_id}").json()["status"] == "Linked"

    names = [
        a["name"]
        for a in api.get(f"/companies/{linked.company_id}/data/accounts").json()["results"]
    ]
    assert "Bank Charges" in names
