"""Structural validation of create-dataset and initiate-sync: Codat's 400 bodies."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from tests.sandbox.conftest import AUTH, Api, Linked, link_company, payment


@pytest.fixture
def linked(api: Api) -> Linked:
    return link_company(api, "gbol")


def _post(api: Api, linked: Linked, body: Any) -> Any:
    return api.post(f"/companies/{linked.company_id}/sync/expenses/data/expense-transactions", body)


def _errors(response: Any) -> list[tuple[str, str, str]]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["service"] == "ExpenseSyncApi"
    assert body["error"] == (
        "There are problems with the request, see the Validation property for more detail."
    )
    assert body["canBeRetried"] == "No"
    return [(e["itemId"], e["message"], e["validatorName"]) for e in body["validation"]["errors"]]


def _with(linked: Linked, mutate: Any) -> dict[str, Any]:
    item = payment(linked, str(uuid.uuid4()))
    mutate(item)
    return {"items": [item]}


def test_a_valid_dataset_returns_a_dataset_id(api: Api, linked: Linked) -> None:
    response = _post(api, linked, {"items": [payment(linked, str(uuid.uuid4()))]})
    assert response.status_code == 200
    assert uuid.UUID(response.json()["datasetId"])


def test_repeated_transaction_ids_are_accepted_at_dataset_time(api: Api, linked: Linked) -> None:
    tx_id = str(uuid.uuid4())
    assert _post(api, linked, {"items": [payment(linked, tx_id)]}).status_code == 200
    assert _post(api, linked, {"items": [payment(linked, tx_id)]}).status_code == 200


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda i: i["lines"][0].update(netAmount=-0.01),
            (
                "Items[0].Lines[0].NetAmount",
                "The field NetAmount must be between 0 and 5000000.",
                "Range",
            ),
        ),
        (
            lambda i: i["lines"][0].update(taxAmount=5_000_000.01),
            (
                "Items[0].Lines[0].TaxAmount",
                "The field TaxAmount must be between 0 and 5000000.",
                "Range",
            ),
        ),
        (
            lambda i: i["lines"][0].pop("netAmount"),
            ("Items[0].Lines[0].NetAmount", "The NetAmount field is required.", "Required"),
        ),
        (
            lambda i: i["lines"][0].pop("accountRef"),
            ("Items[0].Lines[0].AccountRef", "The AccountRef field is required.", "Required"),
        ),
        (lambda i: i.pop("id"), ("Items[0].Id", "The Id field is required.", "Required")),
        (
            lambda i: i.update(id="not-a-uuid"),
            ("Items[0].Id", "The value 'not-a-uuid' is not valid for Id.", "Format"),
        ),
        (lambda i: i.pop("type"), ("Items[0].Type", "The Type field is required.", "Required")),
        (
            lambda i: i.pop("issueDate"),
            ("Items[0].IssueDate", "The IssueDate field is required.", "Required"),
        ),
        (
            lambda i: i.update(issueDate="yesterday"),
            ("Items[0].IssueDate", "The value 'yesterday' is not valid for IssueDate.", "Format"),
        ),
        (
            lambda i: i.pop("currency"),
            ("Items[0].Currency", "The Currency field is required.", "Required"),
        ),
        (
            lambda i: i.update(currency="POUNDS"),
            (
                "Items[0].Currency",
                "The value 'POUNDS' is not a valid ISO 4217 currency code.",
                "Currency",
            ),
        ),
        (
            lambda i: i.update(currencyRate=0),
            ("Items[0].CurrencyRate", "The field CurrencyRate must be greater than 0.", "Range"),
        ),
        (
            lambda i: i.update(contactRef={"id": "1", "contactType": "Customer"}),
            (
                "Items[0].ContactRef.ContactType",
                "The value 'Customer' is not valid for ContactType. Valid values: Supplier.",
                "Enum",
            ),
        ),
        (
            lambda i: i.update(lines=[]),
            (
                "Items[0].Lines",
                "The field Lines must be a string or array type with a minimum length of '1'.",
                "MinLength",
            ),
        ),
        (
            lambda i: i.update(lines=[copy.deepcopy(i["lines"][0]) for _ in range(101)]),
            (
                "Items[0].Lines",
                "The field Lines must be a string or array type with a maximum length of '100'.",
                "MaxLength",
            ),
        ),
        (
            lambda i: i["lines"][0].update(trackingRefs=[]),
            (
                "Items[0].Lines[0].TrackingRefs",
                "The field TrackingRefs must be a string or array type with a minimum length "
                "of '1'.",
                "MinLength",
            ),
        ),
        (
            lambda i: i["lines"][0].update(trackingRefs=[{"id": str(n)} for n in range(11)]),
            (
                "Items[0].Lines[0].TrackingRefs",
                "The field TrackingRefs must be a string or array type with a maximum length "
                "of '10'.",
                "MaxLength",
            ),
        ),
        (
            lambda i: i["lines"][0].update(taxRateRef={}),
            ("Items[0].Lines[0].TaxRateRef.Id", "The Id field is required.", "Required"),
        ),
    ],
)
def test_structural_problems_are_400_with_codat_validation_items(
    api: Api, linked: Linked, mutate: Any, expected: tuple[str, str, str]
) -> None:
    assert _errors(_post(api, linked, _with(linked, mutate))) == [expected]


def test_an_unknown_type_names_the_valid_ones(api: Api, linked: Linked) -> None:
    errors = _errors(_post(api, linked, _with(linked, lambda i: i.update(type="Expense"))))
    assert errors[0][0] == "Items[0].Type"
    assert errors[0][2] == "Enum"
    assert "Payment, Refund, Reward, Chargeback" in errors[0][1]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"items": []},
            (
                "Items",
                "The field Items must be a string or array type with a minimum length of '1'.",
                "MinLength",
            ),
        ),
        ({}, ("Items", "The Items field is required.", "Required")),
    ],
)
def test_the_items_array_is_bounded(
    api: Api, linked: Linked, body: Any, expected: tuple[str, str, str]
) -> None:
    assert _errors(_post(api, linked, body)) == [expected]


def test_more_than_fifty_items_are_refused_and_fifty_accepted(api: Api, linked: Linked) -> None:
    items = [payment(linked, str(uuid.uuid4())) for _ in range(51)]
    assert _errors(_post(api, linked, {"items": items}))[0][2] == "MaxLength"
    assert _post(api, linked, {"items": items[:50]}).status_code == 200


def test_every_problem_is_reported_at_once(api: Api, linked: Linked) -> None:
    first = payment(linked, "bad")
    second = payment(linked, str(uuid.uuid4()))
    second["lines"][0]["netAmount"] = 6_000_000
    errors = _errors(_post(api, linked, {"items": [first, second]}))
    assert [e[0] for e in errors] == ["Items[0].Id", "Items[1].Lines[0].NetAmount"]


def test_contact_refs_accept_type_or_contact_type(api: Api, linked: Linked) -> None:
    for key in ("type", "contactType"):
        body = _with(linked, lambda i, key=key: i.update(contactRef={"id": "1", key: "Supplier"}))
        assert _post(api, linked, body).status_code == 200


def test_unpadded_dates_and_lower_case_types_are_accepted(api: Api, linked: Linked) -> None:
    body = _with(linked, lambda i: i.update(issueDate="2026-5-5", type="payment"))
    assert _post(api, linked, body).status_code == 200


def test_a_body_that_is_not_json_is_400(api: Api, linked: Linked) -> None:
    response = api.client.post(
        f"/codat-sandbox/companies/{linked.company_id}/sync/expenses/data/expense-transactions",
        data="{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
    )
    assert response.status_code == 400


def test_initiate_sync_validates_its_body(api: Api, linked: Linked) -> None:
    path = f"/companies/{linked.company_id}/sync/expenses/syncs"
    assert api.post(path, {"datasetIds": []}).status_code == 400
    assert api.post(path, {"datasetIds": ["nope"]}).status_code == 400
    assert api.post(path, {"datasetIds": [str(uuid.uuid4())], "extra": 1}).status_code == 400
    unknown = api.post(path, {"datasetIds": [str(uuid.uuid4())]})
    assert unknown.status_code == 404


def test_initiate_sync_without_dataset_ids_takes_every_unsynced_dataset(
    api: Api, linked: Linked
) -> None:
    for _ in range(2):
        _post(api, linked, {"items": [payment(linked, str(uuid.uuid4()))]})
    response = api.post(f"/companies/{linked.company_id}/sync/expenses/syncs")
    assert response.status_code == 202
    sync_id = response.json()["syncId"]
    txs = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/transactions")
    assert txs.json()["totalResults"] == 2


@pytest.mark.parametrize("step", ["no-accounting", "pending", "no-partner", "unlinked"])
def test_initiate_sync_is_422_without_a_valid_set_of_connections(api: Api, step: str) -> None:
    company_id = api.post("/companies", {"name": "C"}).json()["id"]
    if step != "no-accounting":
        connection = api.post(
            f"/companies/{company_id}/connections", {"platformKey": "gbol"}
        ).json()
        if step != "pending":
            api.post(f"/_sandbox/companies/{company_id}/connections/{connection['id']}/authorize")
        if step == "unlinked":
            api.call(
                "PATCH",
                f"/companies/{company_id}/connections/{connection['id']}",
                {"status": "Unlinked"},
            )
    if step != "no-partner":
        api.post(f"/companies/{company_id}/sync/expenses/connections/partnerExpense")

    response = api.post(f"/companies/{company_id}/sync/expenses/syncs", {"datasetIds": None})

    assert response.status_code == 422
    assert response.json()["service"] == "ExpenseSyncApi"
    assert "valid set of data connections" in response.json()["error"]
