"""The expense writes of Codat's newer "Expenses" API: paths, bodies, answers. Every request is
held to Codat-Sync-Expenses.json after each test."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from codat import (
    AccountMappingInfo,
    AdjustmentLine,
    AdjustmentTransaction,
    CodatProtocolError,
    ExpenseLineV2,
    ExpenseTransactionV2,
    ExpenseUpdateV2,
    MappingOptions,
    ReimbursableExpense,
    ReimbursableExpenseUpdate,
    SyncStarted,
    TrackingRef,
    TransferTransaction,
)
from tests.codat.conftest import COMPANY_ID, SYNC_ID, TRANSACTION_ID, company_url

EXPENSES_URL = company_url("/sync/expenses/expense-transactions")
KEY = "0b8e5a4e-7c9f-4b8e-9a51-6f1f2b3c4d5e"
OTHER_ID = "4d7c6929-7770-412b-91bb-44d3bc71d111"


@pytest.fixture
def codat_document() -> str:
    return "expenses"


def _line(**overrides: object) -> ExpenseLineV2:
    fields: dict[str, object] = {"net_amount": Decimal("10.50")}
    fields.update(overrides)
    return ExpenseLineV2(**fields)  # type: ignore[arg-type]


def _expense(transaction_id: str = TRANSACTION_ID, **overrides: object) -> ExpenseTransactionV2:
    fields: dict[str, object] = {
        "id": transaction_id,
        "type": "Payment",
        "issue_date": "2024-05-21T00:00:00+00:00",
        "currency": "GBP",
        "lines": (_line(),),
    }
    fields.update(overrides)
    return ExpenseTransactionV2(**fields)  # type: ignore[arg-type]


def _sent(http, index: int = -1) -> object:
    return json.loads(http.calls[index].request.body)


def test_expenses_are_posted_as_a_bare_array_with_the_key_and_answer_their_sync(http, client):
    http.post(EXPENSES_URL, json={"syncId": SYNC_ID})

    started = client.create_expense_transactions(
        COMPANY_ID, [_expense(), _expense(OTHER_ID)], idempotency_key=KEY
    )

    assert started == SyncStarted(sync_id=SYNC_ID, idempotency_key=KEY)
    request = http.calls[0].request
    assert request.method == "POST"
    assert request.url == EXPENSES_URL
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Content-Type"] == "application/json"
    body = _sent(http)
    assert isinstance(body, list)
    assert [item["id"] for item in body] == [TRANSACTION_ID, OTHER_ID]


def test_every_field_of_an_expense_is_sent_in_the_new_shape(http, client):
    http.post(EXPENSES_URL, json={"syncId": SYNC_ID})
    line = _line(
        tax_amount=Decimal("2.10"),
        account_id="42",
        tax_rate_id="GB_20",
        item_id="item-1",
        tracking_refs=(TrackingRef("dept-1"), TrackingRef("cust-9", "customers")),
        invoice_to_customer_id="cust-9",
    )
    expense = _expense(
        lines=(line, _line(net_amount=Decimal("1"))),
        currency_rate=Decimal("1.25"),
        supplier_id="sup-1",
        bank_account_id="card-7",
        reference="R-1",
        merchant_name="Amazon UK",
        notes="team lunch",
        post_as_draft=True,
    )

    client.create_expense_transactions(COMPANY_ID, [expense], idempotency_key=uuid.UUID(KEY))

    assert _sent(http) == [
        {
            "id": TRANSACTION_ID,
            "type": "Payment",
            "issueDate": "2024-05-21T00:00:00+00:00",
            "currency": "GBP",
            "currencyRate": 1.25,
            "contactRef": {"id": "sup-1", "type": "Supplier"},
            "bankAccountRef": {"id": "card-7"},
            "merchantName": "Amazon UK",
            "lines": [
                {
                    "netAmount": 10.5,
                    "taxAmount": 2.1,
                    "taxRateRef": {"id": "GB_20"},
                    "accountRef": {"id": "42"},
                    "itemRef": {"id": "item-1"},
                    "trackingRefs": [
                        {"id": "dept-1"},
                        {"id": "cust-9", "dataType": "customers"},
                    ],
                    "invoiceTo": {"id": "cust-9", "type": "customer"},
                },
                {"netAmount": 1.0},
            ],
            "notes": "team lunch",
            "reference": "R-1",
            "postAsDraft": True,
        }
    ]


def test_planned_json_is_sent_exactly_as_it_was_stored(http, client):
    http.post(EXPENSES_URL, json={"syncId": SYNC_ID})
    planned = _expense().to_api()

    client.create_expense_transactions(COMPANY_ID, [planned], idempotency_key=KEY)

    assert _sent(http) == [planned]


@pytest.mark.parametrize("type_", ["TransferIn", "TransferOut", "AdjustmentIn", "AdjustmentOut"])
def test_the_types_that_moved_to_their_own_endpoints_are_refused_before_sending(
    http, client, type_
):
    with pytest.raises(ValueError, match="endpoints of their own"):
        client.create_expense_transactions(COMPANY_ID, [_expense(type=type_)], idempotency_key=KEY)

    assert len(http.calls) == 0


@pytest.mark.parametrize("count", [0, 51])
def test_a_request_holds_1_to_50_items(http, client, count):
    items = [_expense(str(uuid.uuid4())) for _ in range(count)]

    with pytest.raises(ValueError, match="1 to 50"):
        client.create_expense_transactions(COMPANY_ID, items, idempotency_key=KEY)

    assert len(http.calls) == 0


def test_fifty_items_fit_in_one_request(http, client):
    http.post(EXPENSES_URL, json={"syncId": SYNC_ID})
    items = [_expense(str(uuid.uuid4())) for _ in range(50)]

    client.create_expense_transactions(COMPANY_ID, items, idempotency_key=KEY)

    assert len(_sent(http)) == 50  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["", "batch-7", "0b8e5a4e\r\nX-Evil: 1"])
def test_an_idempotency_key_must_be_a_uuid(http, client, key):
    with pytest.raises(ValueError, match="UUID"):
        client.create_expense_transactions(COMPANY_ID, [_expense()], idempotency_key=key)

    assert len(http.calls) == 0


def test_an_answer_without_a_sync_id_is_a_protocol_error(http, client):
    http.post(EXPENSES_URL, json={"datasetId": SYNC_ID})

    with pytest.raises(CodatProtocolError):
        client.create_expense_transactions(COMPANY_ID, [_expense()], idempotency_key=KEY)


def test_an_update_is_a_put_by_transaction_id_answered_202(http, client):
    url = f"{EXPENSES_URL}/{TRANSACTION_ID}"
    http.put(url, status=202, json={"syncId": SYNC_ID})

    started = client.update_expense_transaction(
        COMPANY_ID,
        TRANSACTION_ID,
        ExpenseUpdateV2(
            type="Payment",
            issue_date="2024-05-21T00:00:00+00:00",
            currency="GBP",
            bank_account_id="card-7",
            lines=(_line(account_id="42"),),
        ),
    )

    assert started.sync_id == SYNC_ID
    assert http.calls[0].request.method == "PUT"
    assert "Idempotency-Key" not in http.calls[0].request.headers
    assert _sent(http) == {
        "type": "Payment",
        "issueDate": "2024-05-21T00:00:00+00:00",
        "currency": "GBP",
        "bankAccountRef": {"id": "card-7"},
        "lines": [{"netAmount": 10.5, "accountRef": {"id": "42"}}],
    }


def test_a_transfer_is_put_by_its_transaction_id_with_both_sides(http, client):
    url = company_url(f"/sync/expenses/transfer-transactions/{TRANSACTION_ID}")
    http.put(url, json={"syncId": SYNC_ID})

    started = client.create_or_update_transfer(
        COMPANY_ID,
        TRANSACTION_ID,
        TransferTransaction(
            date="2024-05-21T00:00:00+00:00",
            from_account_id="current",
            from_amount=Decimal("100.00"),
            to_account_id="card",
            to_amount=Decimal("117.25"),
            description="card top-up",
        ),
    )

    assert started.sync_id == SYNC_ID
    assert "Idempotency-Key" not in http.calls[0].request.headers
    assert _sent(http) == {
        "date": "2024-05-21T00:00:00+00:00",
        "from": {"accountRef": {"id": "current"}, "amount": 100.0},
        "to": {"accountRef": {"id": "card"}, "amount": 117.25},
        "description": "card top-up",
    }


def test_adjustments_are_posted_as_a_bare_array_with_the_key(http, client):
    url = company_url("/sync/expenses/adjustment-transactions")
    http.post(url, json={"syncId": SYNC_ID})
    adjustment = AdjustmentTransaction(
        id=TRANSACTION_ID,
        date="2024-05-21T00:00:00+00:00",
        currency="USD",
        lines=(
            AdjustmentLine(Decimal("5"), "fees", (TrackingRef("sup-1", "suppliers"),)),
            AdjustmentLine(Decimal("-5"), "card"),
        ),
        currency_rate=Decimal("1"),
        reference="ADJ-1",
    )

    started = client.create_adjustment_transactions(COMPANY_ID, [adjustment], idempotency_key=KEY)

    assert started.sync_id == SYNC_ID
    assert http.calls[0].request.headers["Idempotency-Key"] == KEY
    assert _sent(http) == [
        {
            "id": TRANSACTION_ID,
            "date": "2024-05-21T00:00:00+00:00",
            "currency": "USD",
            "lines": [
                {
                    "amount": 5.0,
                    "accountRef": {"id": "fees"},
                    "trackingRefs": [{"id": "sup-1", "dataType": "suppliers"}],
                },
                {"amount": -5.0, "accountRef": {"id": "card"}},
            ],
            "currencyRate": 1.0,
            "reference": "ADJ-1",
        }
    ]


def _reimbursable() -> ReimbursableExpenseUpdate:
    return ReimbursableExpenseUpdate(
        employee_supplier_id="emp-gbp",
        issue_date="2024-05-21T00:00:00+00:00",
        due_date="2024-06-21T00:00:00+00:00",
        currency="GBP",
        lines=(_line(account_id="travel", tax_amount=Decimal("0")),),
        reference="claim w/c 20/05",
        notes="train fares",
    )


def test_reimbursable_expenses_are_posted_as_a_bare_array_with_the_key(http, client):
    url = company_url("/sync/expenses/reimbursable-expense-transactions")
    http.post(url, json={"syncId": SYNC_ID})

    started = client.create_reimbursable_expense_transactions(
        COMPANY_ID, [ReimbursableExpense(TRANSACTION_ID, _reimbursable())], idempotency_key=KEY
    )

    assert started.sync_id == SYNC_ID
    assert http.calls[0].request.headers["Idempotency-Key"] == KEY
    assert _sent(http) == [
        {
            "id": TRANSACTION_ID,
            "contactRef": {"id": "emp-gbp"},
            "issueDate": "2024-05-21T00:00:00+00:00",
            "dueDate": "2024-06-21T00:00:00+00:00",
            "currency": "GBP",
            "lines": [{"netAmount": 10.5, "taxAmount": 0.0, "accountRef": {"id": "travel"}}],
            "reference": "claim w/c 20/05",
            "notes": "train fares",
        }
    ]


def test_a_reimbursable_update_is_a_put_answered_200(http, client):
    url = company_url(f"/sync/expenses/reimbursable-expense-transactions/{TRANSACTION_ID}")
    http.put(url, json={"syncId": SYNC_ID})

    started = client.update_reimbursable_expense_transaction(
        COMPANY_ID, TRANSACTION_ID, _reimbursable()
    )

    assert started.sync_id == SYNC_ID
    assert "id" not in _sent(http)  # type: ignore[operator]


def test_mapping_options_read_the_new_account_fields_and_ignore_unknown_ones(http, client):
    http.get(
        company_url("/sync/expenses/mappingOptions"),
        json={
            "expenseProvider": "Partner Expense",
            "accounts": [
                {
                    "id": "card-7",
                    "name": "Company card",
                    "currency": "GBP",
                    "accountType": "Liability",
                    "nominalCode": "810",
                    "fullyQualifiedCategory": "Liability.Current.CreditCard",
                    "isBankAccount": True,
                    "validTransactionTypes": [],
                    "validFor": ["transfer-transactions"],
                    "somethingNew": {"x": 1},
                }
            ],
        },
    )

    options = client.get_mapping_options(COMPANY_ID)

    assert options == MappingOptions(
        expense_provider="Partner Expense",
        accounts=(
            AccountMappingInfo(
                id="card-7",
                name="Company card",
                currency="GBP",
                account_type="Liability",
                valid_transaction_types=(),
                valid_for=("transfer-transactions",),
                is_bank_account=True,
                nominal_code="810",
                fully_qualified_category="Liability.Current.CreditCard",
            ),
        ),
        tracking_categories=(),
        tax_rates=(),
    )
