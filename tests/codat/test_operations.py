"""Each operation: the request it sends (method, path, query, body) and the typed result."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
import responses

from codat import (
    CodatClient,
    CompanyConfiguration,
    ContactRef,
    ExpenseLine,
    ExpenseTransaction,
    ExpenseUpdate,
)
from tests.codat.conftest import (
    BASE_URL,
    COMPANY_ID,
    CONNECTION_ID,
    DATASET_ID,
    SYNC_ID,
    TRANSACTION_ID,
    company_url,
)

CONNECTION = {
    "id": CONNECTION_ID,
    "integrationId": "bf083d72-62c7-493e-aec9-81b4dbba7e2c",
    "integrationKey": "gbol",
    "sourceId": "8b47a8f6-6a0c-4e49-a1b4-7e1b8b3b2e0c",
    "platformName": "Xero",
    "linkUrl": "https://link-api.codat.io/companies/x/connections/y/start",
    "status": "Linked",
    "created": "2022-10-27T09:53:29Z",
    "sourceType": "Accounting",
    "someFutureField": {"nested": True},
}
COMPANY = {
    "id": COMPANY_ID,
    "name": "Acme Ltd",
    "description": "Card programme customer",
    "platform": "",
    "redirect": f"https://link.codat.io/company/{COMPANY_ID}",
    "lastSync": None,
    "created": "2022-01-01T12:00:00",
    "products": ["expenses-v1"],
    "tags": {"region": "uk"},
    "dataConnections": [CONNECTION],
    "referenceSubsidiaryCompanies": [],
}


def paged(
    results: list[dict],
    page: int = 1,
    page_size: int = 100,
    total: int | None = None,
    next_link: bool = False,
) -> dict:
    links = {"self": {"href": "/x"}, "current": {"href": f"/x?page={page}"}}
    if next_link:
        links["next"] = {"href": f"/x?page={page + 1}"}
    return {
        "results": results,
        "pageNumber": page,
        "pageSize": page_size,
        "totalResults": len(results) if total is None else total,
        "_links": links,
    }


def sent_json(http: responses.RequestsMock, index: int = -1) -> object:
    body = http.calls[index].request.body
    assert body is not None
    return json.loads(body)


def test_get_company_reads_the_fields_the_portal_uses_and_ignores_unknown_ones(http, client):
    http.get(company_url(), json=COMPANY)

    company = client.get_company(COMPANY_ID)

    assert company.id == COMPANY_ID
    assert company.name == "Acme Ltd"
    assert company.products == ("expenses-v1",)
    assert company.tags == {"region": "uk"}
    assert company.created is not None
    assert company.created.tzinfo is not None
    assert company.connections[0].platform_name == "Xero"
    assert company.connections[0].status == "Linked"


def test_create_company_posts_name_description_and_tags(http, client):
    http.post(f"{BASE_URL}/companies", json=COMPANY)

    company = client.create_company(
        "Acme Ltd", description="Card programme customer", tags={"region": "uk"}
    )

    assert company.id == COMPANY_ID
    assert sent_json(http) == {
        "name": "Acme Ltd",
        "description": "Card programme customer",
        "tags": {"region": "uk"},
    }


def test_update_company_patches_only_the_fields_given(http, client):
    http.patch(company_url(), json=COMPANY)

    client.update_company(COMPANY_ID, description="New")

    assert sent_json(http) == {"description": "New"}


def test_replace_company_puts_the_whole_body(http, client):
    http.put(company_url(), json=COMPANY)

    client.replace_company(COMPANY_ID, name="Acme Ltd")

    assert http.calls[0].request.method == "PUT"
    assert sent_json(http) == {"name": "Acme Ltd"}


def test_delete_company_accepts_204_without_body(http, client):
    http.delete(company_url(), status=204)

    assert client.delete_company(COMPANY_ID) is None


def test_list_companies_sends_paging_query_order_and_tags_encoded(http, client):
    http.get(f"{BASE_URL}/companies", json=paged([COMPANY], page=2, page_size=10))

    page = client.list_companies(
        page=2,
        page_size=10,
        query="name~Acme && tags.region=uk",
        order_by="-created",
        tags="region=uk",
    )

    url = http.calls[0].request.url
    assert "page=2&pageSize=10" in url
    assert "query=name~Acme%20%26%26%20tags.region%3Duk" in url
    assert "orderBy=-created" in url
    assert "tags=region%3Duk" in url
    assert page.results[0].name == "Acme Ltd"
    assert (page.page_number, page.page_size, page.total_results) == (2, 10, 1)


def test_connections_create_get_list_unlink_and_delete(http, client):
    http.post(company_url("/connections"), json={**CONNECTION, "status": "PendingAuth"})
    http.get(company_url(f"/connections/{CONNECTION_ID}"), json=CONNECTION)
    http.get(company_url("/connections"), json=paged([CONNECTION]))
    http.patch(
        company_url(f"/connections/{CONNECTION_ID}"), json={**CONNECTION, "status": "Unlinked"}
    )
    http.delete(company_url(f"/connections/{CONNECTION_ID}"), status=200)

    created = client.create_connection(COMPANY_ID, "gbol")
    fetched = client.get_connection(COMPANY_ID, CONNECTION_ID)
    listed = list(client.iter_connections(COMPANY_ID, query="status=Linked"))
    unlinked = client.unlink_connection(COMPANY_ID, CONNECTION_ID)
    client.delete_connection(COMPANY_ID, CONNECTION_ID)

    assert created.status == "PendingAuth"
    assert sent_json(http, 0) == {"platformKey": "gbol"}
    assert fetched.integration_key == "gbol"
    assert [c.id for c in listed] == [CONNECTION_ID]
    assert unlinked.status == "Unlinked"
    assert sent_json(http, 3) == {"status": "Unlinked"}
    assert http.calls[4].request.method == "DELETE"


def test_partner_expense_connection_is_created_without_a_body(http, client):
    http.post(
        company_url("/sync/expenses/connections/partnerExpense"),
        json={**CONNECTION, "platformName": "Partner Expense", "sourceType": "Expense"},
    )

    connection = client.create_partner_expense_connection(COMPANY_ID)

    assert connection.source_type == "Expense"
    assert http.calls[0].request.body is None


def test_configuration_get_and_save_round_trip(http, client):
    config = {"bankAccount": {"id": "89"}, "supplier": {"id": "124"}, "customer": {"id": "140"}}
    http.get(company_url("/sync/expenses/config"), json=config)
    http.post(company_url("/sync/expenses/config"), json=config)

    fetched = client.get_company_configuration(COMPANY_ID)
    saved = client.save_company_configuration(COMPANY_ID, fetched)

    assert fetched == CompanyConfiguration(
        bank_account_id="89", supplier_id="124", customer_id="140"
    )
    assert saved == fetched
    assert sent_json(http) == config


def test_mapping_options_are_typed_with_decimals_and_transaction_types(http, client):
    http.get(
        company_url("/sync/expenses/mappingOptions"),
        json={
            "expenseProvider": "Partner Expense",
            "accounts": [
                {
                    "id": "42",
                    "name": "Travel",
                    "currency": "GBP",
                    "accountType": "Expense",
                    "validTransactionTypes": ["Payment", "Chargeback"],
                    "isBankAccount": False,
                }
            ],
            "trackingCategories": [
                {
                    "id": "DEPARTMENTS",
                    "name": "Departments",
                    "parentId": None,
                    "hasChildren": True,
                    "modifiedDate": "2023-01-01T00:00:00Z",
                }
            ],
            "taxRates": [
                {
                    "id": "20_Bills",
                    "name": "VAT 20%",
                    "code": "INPUT2",
                    "effectiveTaxRate": 20.0,
                    "totalTaxRate": 20.0,
                    "validTransactionTypes": ["Payment"],
                }
            ],
        },
    )

    options = client.get_mapping_options(COMPANY_ID)

    assert options.expense_provider == "Partner Expense"
    assert options.accounts[0].valid_transaction_types == ("Payment", "Chargeback")
    assert options.tracking_categories[0].has_children is True
    assert options.tax_rates[0].effective_tax_rate == Decimal("20.0")


def _transaction() -> ExpenseTransaction:
    return ExpenseTransaction(
        id=TRANSACTION_ID,
        type="Payment",
        issue_date="2024-05-21T00:00:00+00:00",
        currency="GBP",
        currency_rate=Decimal("1.18"),
        contact=ContactRef(id="124"),
        merchant_name="Amazon UK",
        notes="card ending 4590",
        lines=(
            ExpenseLine(
                net_amount=Decimal("110.42"),
                tax_amount=Decimal("14.43"),
                account_id="42",
                tax_rate_id="20_Bills",
                tracking_ids=("DEPARTMENT_6",),
            ),
        ),
    )


def test_create_expense_dataset_sends_items_in_the_v1_shape(http, client):
    http.post(
        company_url("/sync/expenses/data/expense-transactions"), json={"datasetId": DATASET_ID}
    )

    dataset_id = client.create_expense_dataset(COMPANY_ID, [_transaction()])

    assert dataset_id == DATASET_ID
    assert sent_json(http) == {
        "items": [
            {
                "id": TRANSACTION_ID,
                "type": "Payment",
                "issueDate": "2024-05-21T00:00:00+00:00",
                "currency": "GBP",
                "currencyRate": 1.18,
                "contactRef": {"id": "124", "contactType": "Supplier"},
                "merchantName": "Amazon UK",
                "lines": [
                    {
                        "netAmount": 110.42,
                        "taxAmount": 14.43,
                        "accountRef": {"id": "42"},
                        "taxRateRef": {"id": "20_Bills"},
                        "trackingRefs": [{"id": "DEPARTMENT_6"}],
                    }
                ],
                "notes": "card ending 4590",
            }
        ]
    }


def test_amounts_are_written_with_the_exact_decimal_digits(http, client):
    http.post(
        company_url("/sync/expenses/data/expense-transactions"), json={"datasetId": DATASET_ID}
    )
    line = ExpenseLine(
        net_amount=Decimal("0.10"), tax_amount=Decimal("4999999.99"), account_id="42"
    )

    client.create_expense_dataset(
        COMPANY_ID,
        [
            ExpenseTransaction(
                id=TRANSACTION_ID,
                type="Refund",
                issue_date="2024-05-21T00:00:00Z",
                currency="EUR",
                lines=(line,),
            ),
        ],
    )

    assert b'"netAmount":0.1,"taxAmount":4999999.99' in http.calls[0].request.body


def test_an_amount_a_json_number_would_round_is_refused_before_sending(client):
    line = ExpenseLine(
        net_amount=Decimal("0.12345678901234567"), tax_amount=Decimal(0), account_id="42"
    )

    with pytest.raises(ValueError, match="precision"):
        client.create_expense_dataset(
            COMPANY_ID,
            [
                ExpenseTransaction(
                    id=TRANSACTION_ID,
                    type="Payment",
                    issue_date="2024-05-21",
                    currency="GBP",
                    lines=(line,),
                ),
            ],
        )


@pytest.mark.parametrize("count", [0, 51])
def test_a_dataset_must_hold_one_to_fifty_transactions(client, count):
    with pytest.raises(ValueError, match="1 to 50"):
        client.create_expense_dataset(COMPANY_ID, [_transaction()] * count)


@pytest.mark.parametrize("status", [200, 202])
def test_initiate_sync_accepts_200_or_202_and_returns_the_sync_id(http, client, status):
    http.post(company_url("/sync/expenses/syncs"), status=status, json={"syncId": SYNC_ID})

    sync_id = client.initiate_sync(COMPANY_ID, [DATASET_ID])

    assert sync_id == SYNC_ID
    assert sent_json(http) == {"datasetIds": [DATASET_ID]}


def test_sync_status_reads_by_id_latest_last_successful_and_list(http, client):
    status = {
        "companyId": COMPANY_ID,
        "syncId": SYNC_ID,
        "syncStatusCode": 2000,
        "syncStatus": "Complete",
        "errorMessage": "",
        "syncExceptionMessage": None,
        "syncUtc": "2024-05-21T10:00:00Z",
        "dataPushed": True,
        "extra": 1,
    }
    http.get(company_url(f"/sync/expenses/syncs/{SYNC_ID}/status"), json=status)
    http.get(
        company_url("/sync/expenses/syncs/latest/status"), json={**status, "syncStatusCode": 1000}
    )
    http.get(company_url("/sync/expenses/syncs/lastSuccessful/status"), json=status)
    http.get(company_url("/sync/expenses/syncs/list/status"), json=[status, status])

    by_id = client.get_sync_status(COMPANY_ID, SYNC_ID)
    latest = client.get_latest_sync(COMPANY_ID)
    last_ok = client.get_last_successful_sync(COMPANY_ID)
    all_syncs = client.list_syncs(COMPANY_ID)

    assert by_id.succeeded
    assert by_id.data_pushed is True
    assert latest.in_progress
    assert last_ok.sync_id == SYNC_ID
    assert len(all_syncs) == 2


def test_sync_transactions_list_and_get(http, client):
    item = {
        "transactionId": TRANSACTION_ID,
        "status": "ValidationError",
        "message": "The line item total must equal the transaction total",
        "integrationType": "expenses",
    }
    http.get(company_url(f"/sync/expenses/syncs/{SYNC_ID}/transactions"), json=paged([item]))
    http.get(
        company_url(f"/sync/expenses/syncs/{SYNC_ID}/transactions/{TRANSACTION_ID}"), json=[item]
    )

    page = client.list_sync_transactions(COMPANY_ID, SYNC_ID)
    entries = client.get_sync_transaction(COMPANY_ID, SYNC_ID, TRANSACTION_ID)

    assert page.results[0].status == "ValidationError"
    assert entries[0].message.startswith("The line item total")


def test_update_expense_puts_the_update_and_returns_the_new_sync(http, client):
    http.put(
        company_url(f"/sync/expenses/expense-transactions/{TRANSACTION_ID}"),
        status=202,
        json={"syncId": SYNC_ID},
    )

    sync_id = client.update_expense(
        COMPANY_ID,
        TRANSACTION_ID,
        ExpenseUpdate(
            type="Payment", issue_date="2024-05-22T00:00:00+00:00", merchant_name="Amazon"
        ),
    )

    assert sync_id == SYNC_ID
    assert sent_json(http) == {
        "type": "Payment",
        "issueDate": "2024-05-22T00:00:00+00:00",
        "merchantName": "Amazon",
    }


def _attachment_url() -> str:
    return company_url(f"/sync/expenses/syncs/{SYNC_ID}/transactions/{TRANSACTION_ID}/attachments")


def test_upload_attachment_sends_a_multipart_file_part(http, client):
    http.post(
        _attachment_url(),
        json={
            "companyId": COMPANY_ID,
            "id": "1400000000122699154",
            "transactionId": TRANSACTION_ID,
        },
    )

    attachment = client.upload_attachment(
        COMPANY_ID,
        SYNC_ID,
        TRANSACTION_ID,
        file=b"%PDF-1.7 receipt",
        file_name="receipt.pdf",
        content_type="application/pdf",
    )

    request = http.calls[0].request
    assert attachment.id == "1400000000122699154"
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request.headers["Content-Length"] == str(len(request.body))
    assert b'name="file"; filename="receipt.pdf"' in request.body
    assert b"Content-Type: application/pdf\r\n\r\n%PDF-1.7 receipt\r\n" in request.body


def test_upload_attachment_streams_a_file_object_from_its_position(http, client, tmp_path):
    http.post(
        _attachment_url(),
        json={"id": "1", "companyId": COMPANY_ID, "transactionId": TRANSACTION_ID},
    )
    path = tmp_path / "scan.png"
    path.write_bytes(b"HEADER" + b"x" * 200_000)

    with path.open("rb") as receipt:
        receipt.seek(6)
        client.upload_attachment(
            COMPANY_ID,
            SYNC_ID,
            TRANSACTION_ID,
            file=receipt,
            file_name='my "scan".png',
            content_type="image/png",
        )

    request = http.calls[0].request
    assert request.headers["Content-Length"] == str(len(request.body))
    assert b"HEADER" not in request.body
    assert request.body.count(b"x") >= 200_000
    assert b'filename="my %22scan%22.png"' in request.body


def test_upload_attachment_of_an_unseekable_stream_is_sent_chunked(http, client):
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self._data = io.BytesIO(b"streamed bytes")

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[override]
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    http.post(_attachment_url(), json={"id": "1"})

    client.upload_attachment(
        COMPANY_ID,
        SYNC_ID,
        TRANSACTION_ID,
        file=Pipe(),
        file_name="r.txt",
        content_type="text/plain",
    )

    request = http.calls[0].request
    assert request.headers.get("Transfer-Encoding") == "chunked"
    assert b"streamed bytes" in request.body


def test_company_info_and_data_status(http, client):
    http.get(
        company_url("/data/info"),
        json={
            "companyName": "Acme",
            "baseCurrency": "GBP",
            "ledgerLockDate": "2024-01-31T00:00:00",
        },
    )
    http.get(
        company_url("/dataStatus"),
        json={
            "chartOfAccounts": {
                "dataType": "chartOfAccounts",
                "currentStatus": "Complete",
                "lastSuccessfulSync": "2024-05-01T10:00:00Z",
                "latestSyncId": "a",
                "latestSuccessfulSyncId": "a",
            },
            "suppliers": {"currentStatus": "Fetching"},
        },
    )

    info = client.get_company_info(COMPANY_ID)
    status = client.get_data_status(COMPANY_ID)

    assert info.base_currency == "GBP"
    assert status["chartOfAccounts"].current_status == "Complete"
    assert status["suppliers"].data_type == "suppliers"


def test_refresh_all_data_posts_and_accepts_204(http, client):
    http.post(company_url("/data/all"), status=204)

    assert client.refresh_all_data(COMPANY_ID) is None


def test_accounting_data_lists_read_their_paths_with_the_query(http, client):
    query = "metadata.isDeleted=false&&isBankAccount=true"
    http.get(
        company_url("/data/accounts"),
        json=paged(
            [
                {
                    "id": "89",
                    "name": "Card",
                    "type": "Liability",
                    "isBankAccount": True,
                    "metadata": {"isDeleted": False},
                    "currentBalance": 0,
                }
            ]
        ),
    )
    http.get(
        company_url(f"/connections/{CONNECTION_ID}/data/bankAccounts"),
        json=paged(
            [{"id": "b1", "accountName": "Current", "accountType": "Debit", "currency": "GBP"}]
        ),
    )
    http.get(
        company_url("/data/suppliers"),
        json=paged([{"id": "124", "supplierName": "Amazon", "status": "Active"}]),
    )
    http.get(
        company_url("/data/customers"),
        json=paged([{"id": "140", "customerName": "Cashback", "status": "Active"}]),
    )
    http.get(
        company_url("/data/trackingCategories"),
        json=paged(
            [{"id": "DEPARTMENT_6", "name": "Sales", "status": "Active", "hasChildren": False}]
        ),
    )
    http.get(
        company_url("/data/taxRates"),
        json=paged(
            [
                {
                    "id": "20_Bills",
                    "name": "VAT",
                    "effectiveTaxRate": 20,
                    "status": "Active",
                    "metadata": {"isDeleted": True},
                }
            ]
        ),
    )

    accounts = list(client.iter_accounts(COMPANY_ID, query=query))
    banks = list(client.iter_bank_accounts(COMPANY_ID, CONNECTION_ID))
    suppliers = client.list_suppliers(COMPANY_ID, query="status=Active").results
    customers = list(client.iter_customers(COMPANY_ID))
    tracking = list(client.iter_tracking_categories(COMPANY_ID))
    tax_rates = list(client.iter_tax_rates(COMPANY_ID))

    assert http.calls[0].request.url.endswith(
        "query=metadata.isDeleted%3Dfalse%26%26isBankAccount%3Dtrue"
    )
    assert accounts[0].is_bank_account
    assert not accounts[0].is_deleted
    assert banks[0].account_type == "Debit"
    assert suppliers[0].supplier_name == "Amazon"
    assert customers[0].customer_name == "Cashback"
    assert tracking[0].name == "Sales"
    assert tax_rates[0].is_deleted
    assert tax_rates[0].effective_tax_rate == Decimal(20)


def test_ids_are_encoded_so_they_cannot_change_the_path(client):
    with pytest.raises(ValueError, match="empty"):
        client.get_company("")


def test_ids_with_slashes_stay_in_one_segment(make_client):
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE_URL}/companies/a%2F..%2Fb", json=COMPANY)
        make_client().get_company("a/../b")
        assert mock.calls[0].request.path_url == "/companies/a%2F..%2Fb"


def test_client_works_under_a_base_path_like_the_emulator(exchanges):
    with responses.RequestsMock() as mock:
        mock.get(f"http://127.0.0.1:8000/codat-sandbox/companies/{COMPANY_ID}", json=COMPANY)
        client = CodatClient(
            "http://127.0.0.1:8000/codat-sandbox/", "k", on_exchange=exchanges.append
        )

        assert client.get_company(COMPANY_ID).id == COMPANY_ID
        assert exchanges[0].path == f"/companies/{COMPANY_ID}"


def test_a_content_type_cannot_smuggle_headers_into_the_upload(client):
    with pytest.raises(ValueError, match="content_type"):
        client.upload_attachment(
            COMPANY_ID,
            SYNC_ID,
            TRANSACTION_ID,
            file=b"x",
            file_name="r.pdf",
            content_type="application/pdf\r\nX-Evil: 1",
        )


def test_the_v1_limits_on_lines_and_tracking_refs_are_checked_before_sending(client):
    no_lines = ExpenseTransaction(
        id=TRANSACTION_ID, type="Payment", issue_date="2024-05-21", currency="GBP", lines=()
    )
    too_many_refs = ExpenseLine(Decimal(1), Decimal(0), "42", tracking_ids=tuple("abcdefghijk"))

    with pytest.raises(ValueError, match="1 to 100 lines"):
        client.create_expense_dataset(COMPANY_ID, [no_lines])
    with pytest.raises(ValueError, match="at most 10"):
        too_many_refs.to_api()


def test_an_unknown_transaction_type_is_refused(client):
    with pytest.raises(ValueError, match="unknown transaction type"):
        ExpenseUpdate(type="payment", issue_date="2024-05-21").to_api()


def test_dates_are_sent_as_utc_datetimes():
    from datetime import date, datetime

    by_date = ExpenseUpdate(type="Payment", issue_date=date(2024, 5, 21)).to_api()
    by_naive = ExpenseUpdate(type="Payment", issue_date=datetime(2024, 5, 21, 9, 30)).to_api()

    assert by_date["issueDate"] == "2024-05-21T00:00:00+00:00"
    assert by_naive["issueDate"] == "2024-05-21T09:30:00+00:00"
