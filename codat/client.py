"""CodatClient: every Codat call the portal makes, over one `requests.Session`.

What every call gets: Basic auth, a connect/read timeout, an exchange record for the portal's
audit trail, retries for reads (bounded, honouring `Retry-After`) and for writes that carry an
`Idempotency-Key` (only where a resend cannot write twice), and failures mapped to
`codat.errors`. The client knows nothing about the portal's models; it speaks ids and dataclasses.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, TypeVar
from urllib.parse import quote, urlencode

import requests

from codat.errors import (
    CodatError,
    CodatProtocolError,
    CodatRateLimitedError,
    CodatUnavailableError,
    correlation_id_from_headers,
    error_from_response,
)
from codat.retry import RetryPolicy
from codat.types import (
    MAX_TRANSACTIONS_PER_DATASET,
    MAX_TRANSACTIONS_PER_REQUEST,
    Account,
    AdjustmentTransaction,
    Attachment,
    BankAccount,
    Company,
    CompanyConfiguration,
    CompanyInfo,
    CompanyRequest,
    Connection,
    Customer,
    DataStatus,
    ExpenseTransaction,
    ExpenseTransactionV2,
    ExpenseUpdate,
    ExpenseUpdateV2,
    MappingOptions,
    Page,
    ReimbursableExpense,
    ReimbursableExpenseUpdate,
    Supplier,
    SyncStarted,
    SyncStatus,
    TaxRate,
    TrackingCategory,
    TransactionMetadata,
    TransferTransaction,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLIENT_VERSION = "0.1.0"
DEFAULT_USER_AGENT = (
    f"SfE-Portal/{CLIENT_VERSION} (codat-client; python-requests/{requests.__version__})"
)
# Connect fast or fail; Codat's reads of large lists can take a while to start streaming.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
DEFAULT_PAGE_SIZE = 100
# A lazy walk that has not ended after this many pages is a server bug, not a big ledger.
MAX_PAGES = 10_000
EXCHANGE_BODY_LIMIT = 4096

Timeout = float | tuple[float, float]
FileData = bytes | IO[bytes]


@dataclass(frozen=True)
class Exchange:
    """One HTTP attempt, as the portal stores it (`CodatExchange`). Never holds the API key."""

    method: str
    path: str
    query: str
    status: int | None
    duration_ms: int
    correlation_id: str | None
    request_body: str | None
    response_body: str | None
    error: str | None
    attempt: int = 1
    # When the answer (or the failure) came: an exchange made on a thread that must not touch
    # the database is recorded later, and is stored with this time, not the recording's.
    at: datetime | None = None
    # The `Idempotency-Key` header sent, if any: not a secret, and what support needs to match
    # a resend to its first attempt (every attempt of one call carries the same key).
    idempotency_key: str | None = None


ExchangeHook = Callable[[Exchange], None]


@dataclass(frozen=True)
class _Answer:
    method: str
    path: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    correlation_id: str | None


@dataclass(frozen=True)
class _Body:
    data: bytes | _MultipartStream | None
    content_type: str | None
    summary: str  # what the exchange record shows: the JSON text, or a multipart summary


class _MultipartStream:
    """A `multipart/form-data` body with one file part, read in chunks as it is sent.

    requests' own `files=` builds the whole body in memory; a receipt can be tens of megabytes
    and is already held by the storage backend, so the file is streamed instead. `len` lets
    requests send a Content-Length when the size is known, rather than a chunked body.
    """

    def __init__(self, head: bytes, file: IO[bytes], tail: bytes, size: int | None) -> None:
        self._parts: list[IO[bytes]] = [io.BytesIO(head), file, io.BytesIO(tail)]
        self.len = len(head) + size + len(tail) if size is not None else None

    def read(self, size: int = -1) -> bytes:
        chunks: list[bytes] = []
        remaining = size if size is not None and size >= 0 else -1
        while self._parts and remaining != 0:
            chunk = self._parts[0].read(remaining)
            if not chunk:
                self._parts.pop(0)
                continue
            chunks.append(chunk)
            if remaining > 0:
                remaining -= len(chunk)
        return b"".join(chunks)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(64 * 1024):
            yield chunk


def _file_size(file: IO[bytes]) -> int | None:
    try:
        return os.fstat(file.fileno()).st_size - file.tell()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    try:
        start = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(start)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return end - start


def _multipart(
    field_name: str, file: FileData, file_name: str, content_type: str, size: int | None
) -> _Body:
    if any(char in content_type for char in "\r\n"):
        raise ValueError("content_type must be a single header value")
    boundary = f"sfe-{os.urandom(16).hex()}"
    # Quotes and line breaks would end the header early; percent-encode them as browsers do.
    safe_name = file_name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{safe_name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    stream: IO[bytes] = io.BytesIO(file) if isinstance(file, bytes) else file
    if size is None:
        size = len(file) if isinstance(file, bytes) else _file_size(stream)
    summary = (
        f"multipart: {field_name}={file_name!r} ({content_type}, "
        f"{'unknown size' if size is None else f'{size} bytes'})"
    )
    return _Body(
        data=_MultipartStream(head, stream, tail, size),
        content_type=f"multipart/form-data; boundary={boundary}",
        summary=summary,
    )


def _segment(value: str) -> str:
    """A path parameter, encoded so an id can never reach another path."""
    if not value:
        raise ValueError("path parameters must not be empty")
    return quote(value, safe="")


def _query_string(params: Mapping[str, str | int | None]) -> str:
    # quote (not quote_plus): Codat's query language is documented with %20 for spaces, and
    # `=`, `&&`, `||` inside `query=` must be encoded so they do not split the parameter.
    present = {key: str(value) for key, value in params.items() if value is not None}
    return urlencode(present, quote_via=quote, safe="")


class CodatClient:
    """Typed access to Codat's expenses APIs (Sync for Expenses v1 and the newer "Expenses"
    generation, which share the sync, status and attachment endpoints) and the platform reads
    the portal needs.

    `on_exchange` receives an `Exchange` for every HTTP attempt; an exception it raises is
    logged and never breaks the call. `sleep` and `clock` are injectable so the retry logic is
    tested without waiting.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        on_exchange: ExchangeHook | None = None,
        retry_policy: RetryPolicy | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required")
        if not api_key:
            raise ValueError("api_key is required")
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        # Codat's scheme: "Basic " + base64 of the key on its own (no user:password pair).
        self._authorization = "Basic " + base64.b64encode(api_key.encode()).decode("ascii")
        self._auth = _KeyAuth(self._authorization)
        self._timeout = timeout
        self._session = session if session is not None else requests.Session()
        self._owns_session = session is None
        self._on_exchange = on_exchange
        self._retry_policy = retry_policy if retry_policy is not None else RetryPolicy()
        self._user_agent = user_agent
        self._sleep = sleep
        self._clock = clock

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> CodatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- companies ---------------------------------------------------------------------------

    def list_companies(
        self,
        *,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        query: str | None = None,
        order_by: str | None = None,
        tags: str | None = None,
    ) -> Page[Company]:
        return self._page(
            "/companies",
            Company.from_api,
            page=page,
            page_size=page_size,
            extra={"query": query, "orderBy": order_by, "tags": tags},
        )

    def iter_companies(
        self,
        *,
        query: str | None = None,
        order_by: str | None = None,
        tags: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Company]:
        return self._walk(
            "/companies",
            Company.from_api,
            page_size=page_size,
            extra={"query": query, "orderBy": order_by, "tags": tags},
        )

    def create_company(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> Company:
        body = CompanyRequest(name=name, description=description, tags=tags).to_api()
        return self._parse(self._post("/companies", body), Company.from_api)

    def get_company(self, company_id: str) -> Company:
        return self._parse(self._get(f"/companies/{_segment(company_id)}"), Company.from_api)

    def update_company(
        self,
        company_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Company:
        """PATCH: only the fields given change."""
        body = CompanyRequest(name=name, description=description, tags=tags).to_api()
        answer = self._call("PATCH", f"/companies/{_segment(company_id)}", body=_json_body(body))
        return self._parse(answer, Company.from_api)

    def replace_company(
        self,
        company_id: str,
        *,
        name: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Company:
        """PUT: fields left out are cleared."""
        body = CompanyRequest(name=name, description=description, tags=tags).to_api()
        answer = self._call("PUT", f"/companies/{_segment(company_id)}", body=_json_body(body))
        return self._parse(answer, Company.from_api)

    def delete_company(self, company_id: str) -> None:
        self._call("DELETE", f"/companies/{_segment(company_id)}")

    # ---- connections -------------------------------------------------------------------------

    def list_connections(
        self,
        company_id: str,
        *,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        query: str | None = None,
        order_by: str | None = None,
    ) -> Page[Connection]:
        return self._page(
            f"/companies/{_segment(company_id)}/connections",
            Connection.from_api,
            page=page,
            page_size=page_size,
            extra={"query": query, "orderBy": order_by},
        )

    def iter_connections(
        self,
        company_id: str,
        *,
        query: str | None = None,
        order_by: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Connection]:
        return self._walk(
            f"/companies/{_segment(company_id)}/connections",
            Connection.from_api,
            page_size=page_size,
            extra={"query": query, "orderBy": order_by},
        )

    def create_connection(self, company_id: str, platform_key: str) -> Connection:
        answer = self._post(
            f"/companies/{_segment(company_id)}/connections", {"platformKey": platform_key}
        )
        return self._parse(answer, Connection.from_api)

    def create_partner_expense_connection(self, company_id: str) -> Connection:
        answer = self._post(
            f"/companies/{_segment(company_id)}/sync/expenses/connections/partnerExpense", None
        )
        return self._parse(answer, Connection.from_api)

    def get_connection(self, company_id: str, connection_id: str) -> Connection:
        path = f"/companies/{_segment(company_id)}/connections/{_segment(connection_id)}"
        return self._parse(self._get(path), Connection.from_api)

    def delete_connection(self, company_id: str, connection_id: str) -> None:
        self._call(
            "DELETE", f"/companies/{_segment(company_id)}/connections/{_segment(connection_id)}"
        )

    def unlink_connection(
        self, company_id: str, connection_id: str, *, status: str = "Unlinked"
    ) -> Connection:
        path = f"/companies/{_segment(company_id)}/connections/{_segment(connection_id)}"
        answer = self._call("PATCH", path, body=_json_body({"status": status}))
        return self._parse(answer, Connection.from_api)

    # ---- configuration and mapping options ---------------------------------------------------

    def get_company_configuration(self, company_id: str) -> CompanyConfiguration:
        path = f"/companies/{_segment(company_id)}/sync/expenses/config"
        return self._parse(self._get(path), CompanyConfiguration.from_api)

    def save_company_configuration(
        self, company_id: str, configuration: CompanyConfiguration
    ) -> CompanyConfiguration:
        path = f"/companies/{_segment(company_id)}/sync/expenses/config"
        return self._parse(self._post(path, configuration.to_api()), CompanyConfiguration.from_api)

    def get_mapping_options(self, company_id: str) -> MappingOptions:
        path = f"/companies/{_segment(company_id)}/sync/expenses/mappingOptions"
        return self._parse(self._get(path), MappingOptions.from_api)

    # ---- expenses and syncs ------------------------------------------------------------------

    def create_expense_dataset(
        self, company_id: str, transactions: Sequence[ExpenseTransaction | Mapping[str, Any]]
    ) -> str:
        """Store 1 to 50 transactions as a dataset and return its `datasetId`. Writes no ledger.

        An item may also be given as the JSON an `ExpenseTransaction.to_api()` made earlier
        (a push keeps its planned items that way); it is sent as it is.
        """
        if not 1 <= len(transactions) <= MAX_TRANSACTIONS_PER_DATASET:
            raise ValueError(
                f"a dataset holds 1 to {MAX_TRANSACTIONS_PER_DATASET} transactions, "
                f"not {len(transactions)}"
            )
        body = {
            "items": [
                item.to_api() if isinstance(item, ExpenseTransaction) else item
                for item in transactions
            ]
        }
        path = f"/companies/{_segment(company_id)}/sync/expenses/data/expense-transactions"
        return self._parse(self._post(path, body), lambda data: _str_field(data, "datasetId"))

    def initiate_sync(self, company_id: str, dataset_ids: Sequence[str]) -> str:
        """Start writing the datasets to the ledger; returns the `syncId`.

        The v1 document lists no success response here; the real service answers 202
        `{"syncId": …}` (some deployments 200), and both are accepted.
        """
        if not dataset_ids:
            raise ValueError("initiate_sync needs at least one dataset id")
        path = f"/companies/{_segment(company_id)}/sync/expenses/syncs"
        answer = self._post(path, {"datasetIds": list(dataset_ids)})
        return self._parse(answer, lambda data: _str_field(data, "syncId"))

    def update_expense(self, company_id: str, transaction_id: str, update: ExpenseUpdate) -> str:
        """Correct an already-synced expense; starts its own sync and returns its `syncId`."""
        path = (
            f"/companies/{_segment(company_id)}/sync/expenses/expense-transactions/"
            f"{_segment(transaction_id)}"
        )
        answer = self._call("PUT", path, body=_json_body(update.to_api()))
        return self._parse(answer, lambda data: _str_field(data, "syncId"))

    # ---- expense writes of the newer "Expenses" generation ----------------------------------
    #
    # Each call writes to the ledger: Codat starts a sync for it at once and answers its id.
    # POSTs carry the caller's `Idempotency-Key`, recorded by the caller before the call, so
    # a resend with the same key can never write twice (see `_call` for what is retried).
    # PUTs carry no key: Codat documents the header for POST and PATCH only, and a PUT is
    # already keyed by its transaction id (a repeat re-applies the same values, in a new sync).

    def create_expense_transactions(
        self,
        company_id: str,
        items: Sequence[ExpenseTransactionV2 | Mapping[str, Any]],
        *,
        idempotency_key: str | uuid.UUID,
    ) -> SyncStarted:
        """Write 1 to 50 expense transactions (Payment, Refund, Reward, Chargeback).

        An item may also be the JSON an `ExpenseTransactionV2.to_api()` made earlier (a push
        keeps its planned items that way): it is sent as it is, so a resend under the same key
        has the same body.
        """
        return self._create(
            company_id, "expense-transactions", items, ExpenseTransactionV2, idempotency_key
        )

    def update_expense_transaction(
        self, company_id: str, transaction_id: str, update: ExpenseUpdateV2
    ) -> SyncStarted:
        """Correct a synced expense (Codat answers 202 and starts a sync for the update)."""
        path = self._expenses_path(company_id, "expense-transactions", transaction_id)
        return self._sync_started(self._call("PUT", path, body=_json_body(update.to_api())))

    def create_or_update_transfer(
        self,
        company_id: str,
        transaction_id: str,
        transfer: TransferTransaction | Mapping[str, Any],
    ) -> SyncStarted:
        """Write a transfer between two accounts; the same PUT again updates it (where the
        platform allows it).

        `transfer` may also be the JSON a `TransferTransaction.to_api()` made earlier, with or
        without its `id` (a push plans its items that way): the id goes in the path only.

        Codat keeps no answer under an Idempotency-Key for a PUT, so none is sent: a PUT whose
        answer was lost is found among the company's syncs before it is sent again.
        """
        if isinstance(transfer, TransferTransaction):
            body = transfer.to_api()
        else:
            body = {key: value for key, value in transfer.items() if key != "id"}
        path = self._expenses_path(company_id, "transfer-transactions", transaction_id)
        return self._sync_started(self._call("PUT", path, body=_json_body(body)))

    def create_adjustment_transactions(
        self,
        company_id: str,
        items: Sequence[AdjustmentTransaction | Mapping[str, Any]],
        *,
        idempotency_key: str | uuid.UUID,
    ) -> SyncStarted:
        """Write 1 to 50 adjustments, each as a journal entry."""
        return self._create(
            company_id, "adjustment-transactions", items, AdjustmentTransaction, idempotency_key
        )

    def create_reimbursable_expense_transactions(
        self,
        company_id: str,
        items: Sequence[ReimbursableExpense | Mapping[str, Any]],
        *,
        idempotency_key: str | uuid.UUID,
    ) -> SyncStarted:
        """Write 1 to 50 employee expenses to be repaid, each as a bill to the employee."""
        return self._create(
            company_id,
            "reimbursable-expense-transactions",
            items,
            ReimbursableExpense,
            idempotency_key,
        )

    def update_reimbursable_expense_transaction(
        self, company_id: str, transaction_id: str, update: ReimbursableExpenseUpdate
    ) -> SyncStarted:
        path = self._expenses_path(company_id, "reimbursable-expense-transactions", transaction_id)
        return self._sync_started(self._call("PUT", path, body=_json_body(update.to_api())))

    def _create(
        self,
        company_id: str,
        endpoint: str,
        items: Sequence[Any],
        item_class: type[Any],
        idempotency_key: str | uuid.UUID,
    ) -> SyncStarted:
        if not 1 <= len(items) <= MAX_TRANSACTIONS_PER_REQUEST:
            raise ValueError(
                f"{endpoint} takes 1 to {MAX_TRANSACTIONS_PER_REQUEST} items, not {len(items)}"
            )
        key = _idempotency_key(idempotency_key)
        # A bare JSON array: the `{"items": …}` envelope of v1 datasets is refused here.
        body = [item.to_api() if isinstance(item, item_class) else item for item in items]
        if not all(isinstance(item, Mapping) for item in body):
            raise TypeError(f"{endpoint} items must be {item_class.__name__} or their JSON")
        path = self._expenses_path(company_id, endpoint)
        answer = self._call("POST", path, body=_json_body(body), idempotency_key=key)
        return self._sync_started(answer, key)

    def _sync_started(self, answer: _Answer, key: str | None = None) -> SyncStarted:
        return self._parse(
            answer,
            lambda data: SyncStarted(sync_id=_str_field(data, "syncId"), idempotency_key=key),
        )

    @staticmethod
    def _expenses_path(company_id: str, endpoint: str, transaction_id: str | None = None) -> str:
        path = f"/companies/{_segment(company_id)}/sync/expenses/{endpoint}"
        return path if transaction_id is None else f"{path}/{_segment(transaction_id)}"

    def upload_attachment(
        self,
        company_id: str,
        sync_id: str,
        transaction_id: str,
        *,
        file: FileData,
        file_name: str,
        content_type: str = "application/octet-stream",
        size: int | None = None,
    ) -> Attachment:
        """Upload a receipt for a transaction the sync `sync_id` completed.

        `file` may be bytes or a binary file object, which is streamed from its current
        position (never read whole into memory). Pass `size` when the object cannot seek.
        """
        path = (
            f"/companies/{_segment(company_id)}/sync/expenses/syncs/{_segment(sync_id)}"
            f"/transactions/{_segment(transaction_id)}/attachments"
        )
        body = _multipart("file", file, file_name, content_type, size)
        return self._parse(self._call("POST", path, body=body), Attachment.from_api)

    def get_sync_status(self, company_id: str, sync_id: str) -> SyncStatus:
        path = f"/companies/{_segment(company_id)}/sync/expenses/syncs/{_segment(sync_id)}/status"
        return self._parse(self._get(path), SyncStatus.from_api)

    def get_latest_sync(self, company_id: str) -> SyncStatus:
        path = f"/companies/{_segment(company_id)}/sync/expenses/syncs/latest/status"
        return self._parse(self._get(path), SyncStatus.from_api)

    def get_last_successful_sync(self, company_id: str) -> SyncStatus:
        path = f"/companies/{_segment(company_id)}/sync/expenses/syncs/lastSuccessful/status"
        return self._parse(self._get(path), SyncStatus.from_api)

    def list_syncs(self, company_id: str) -> list[SyncStatus]:
        """Every sync of the company (Codat returns a bare array here, not a page)."""
        path = f"/companies/{_segment(company_id)}/sync/expenses/syncs/list/status"
        return self._parse(self._get(path), lambda data: _list_of(data, SyncStatus.from_api))

    def list_sync_transactions(
        self, company_id: str, sync_id: str, *, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Page[TransactionMetadata]:
        return self._page(
            self._sync_transactions_path(company_id, sync_id),
            TransactionMetadata.from_api,
            page=page,
            page_size=page_size,
        )

    def iter_sync_transactions(
        self, company_id: str, sync_id: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[TransactionMetadata]:
        return self._walk(
            self._sync_transactions_path(company_id, sync_id),
            TransactionMetadata.from_api,
            page_size=page_size,
        )

    def get_sync_transaction(
        self, company_id: str, sync_id: str, transaction_id: str
    ) -> list[TransactionMetadata]:
        """The transaction's status entries in that sync (Codat returns an array)."""
        path = f"{self._sync_transactions_path(company_id, sync_id)}/{_segment(transaction_id)}"
        return self._parse(
            self._get(path), lambda data: _list_of(data, TransactionMetadata.from_api)
        )

    @staticmethod
    def _sync_transactions_path(company_id: str, sync_id: str) -> str:
        return (
            f"/companies/{_segment(company_id)}/sync/expenses/syncs/{_segment(sync_id)}"
            "/transactions"
        )

    # ---- accounting data (platform endpoints; not in the v1 document) ------------------------

    def get_company_info(self, company_id: str) -> CompanyInfo:
        path = f"/companies/{_segment(company_id)}/data/info"
        return self._parse(self._get(path), CompanyInfo.from_api)

    def list_accounts(
        self,
        company_id: str,
        *,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        query: str | None = None,
    ) -> Page[Account]:
        return self._page(
            self._data_path(company_id, "accounts"),
            Account.from_api,
            page=page,
            page_size=page_size,
            extra={"query": query},
        )

    def iter_accounts(
        self, company_id: str, *, query: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Account]:
        return self._walk(
            self._data_path(company_id, "accounts"),
            Account.from_api,
            page_size=page_size,
            extra={"query": query},
        )

    def iter_bank_accounts(
        self,
        company_id: str,
        connection_id: str,
        *,
        query: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[BankAccount]:
        return self._walk(
            self._bank_accounts_path(company_id, connection_id),
            BankAccount.from_api,
            page_size=page_size,
            extra={"query": query},
        )

    def list_suppliers(
        self,
        company_id: str,
        *,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        query: str | None = None,
    ) -> Page[Supplier]:
        return self._page(
            self._data_path(company_id, "suppliers"),
            Supplier.from_api,
            page=page,
            page_size=page_size,
            extra={"query": query},
        )

    def iter_suppliers(
        self, company_id: str, *, query: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Supplier]:
        return self._walk(
            self._data_path(company_id, "suppliers"),
            Supplier.from_api,
            page_size=page_size,
            extra={"query": query},
        )

    def iter_customers(
        self, company_id: str, *, query: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Customer]:
        return self._walk(
            self._data_path(company_id, "customers"),
            Customer.from_api,
            page_size=page_size,
            extra={"query": query},
        )

    def iter_tracking_categories(
        self, company_id: str, *, query: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[TrackingCategory]:
        return self._walk(
            self._data_path(company_id, "trackingCategories"),
            TrackingCategory.from_api,
            page_size=page_size,
            extra={"query": query},
        )

    def iter_tax_rates(
        self, company_id: str, *, query: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[TaxRate]:
        return self._walk(
            self._data_path(company_id, "taxRates"),
            TaxRate.from_api,
            page_size=page_size,
            extra={"query": query},
        )

    def refresh_all_data(self, company_id: str) -> None:
        """Queue a fetch of every data type (asynchronous; Codat answers 204 at once)."""
        self._post(f"/companies/{_segment(company_id)}/data/all", None)

    def get_data_status(self, company_id: str) -> dict[str, DataStatus]:
        """Freshness per data type, keyed as Codat keys it (`chartOfAccounts`, …)."""
        path = f"/companies/{_segment(company_id)}/dataStatus"

        def parse(data: Any) -> dict[str, DataStatus]:
            if not isinstance(data, Mapping):
                raise TypeError("dataStatus is not an object")
            return {
                key: DataStatus.from_api({"dataType": key, **value})
                for key, value in data.items()
                if isinstance(value, Mapping)
            }

        return self._parse(self._get(path), parse)

    @staticmethod
    def _data_path(company_id: str, data_type: str) -> str:
        return f"/companies/{_segment(company_id)}/data/{data_type}"

    @staticmethod
    def _bank_accounts_path(company_id: str, connection_id: str) -> str:
        return (
            f"/companies/{_segment(company_id)}/connections/{_segment(connection_id)}"
            "/data/bankAccounts"
        )

    # ---- paging ------------------------------------------------------------------------------

    def _page(
        self,
        path: str,
        parse: Callable[[Mapping[str, Any]], T],
        *,
        page: int,
        page_size: int,
        extra: Mapping[str, str | None] | None = None,
    ) -> Page[T]:
        if page < 1 or page_size < 1:
            raise ValueError("page and page_size start at 1")
        params: dict[str, str | int | None] = {"page": page, "pageSize": page_size}
        params.update(extra or {})
        answer = self._get(path, params)
        return self._parse(
            answer,
            lambda data: Page.from_api(_mapping(data), parse, page=page, page_size=page_size),
        )

    def _walk(
        self,
        path: str,
        parse: Callable[[Mapping[str, Any]], T],
        *,
        page_size: int,
        extra: Mapping[str, str | None] | None = None,
    ) -> Iterator[T]:
        """Yield every item of every page, fetching a page only when the previous is used up."""
        for page_number in range(1, MAX_PAGES + 1):
            page = self._page(path, parse, page=page_number, page_size=page_size, extra=extra)
            if page.page_number != page_number:
                # A server that ignores `page` would otherwise feed the same items forever.
                raise CodatProtocolError(
                    f"asked Codat for page {page_number} and got page {page.page_number}",
                    method="GET",
                    path=path,
                )
            yield from page.results
            if page.is_last:
                return
        raise CodatProtocolError(
            f"Codat kept returning full pages after {MAX_PAGES} pages", method="GET", path=path
        )

    # ---- transport ---------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, str | int | None] | None = None) -> _Answer:
        return self._call("GET", path, params=params)

    def _post(self, path: str, body: Any) -> _Answer:
        return self._call("POST", path, body=_json_body(body) if body is not None else None)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | None] | None = None,
        body: _Body | None = None,
        idempotency_key: str | None = None,
    ) -> _Answer:
        query = _query_string(params or {})
        url = f"{self._base_url}{path}" + (f"?{query}" if query else "")
        headers = {
            "Accept": "application/json",
            "User-Agent": self._user_agent,
        }
        if body is not None and body.content_type:
            headers["Content-Type"] = body.content_type
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        # Reads are retried. A write without a key is not: a repeat could put an expense in the
        # ledger twice. A write with a key is resent, with the same key, only where Codat has
        # cached no answer for it: after a timeout or a broken connection (Codat replays its
        # answer if the first attempt arrived) and after a 429 (never cached). Any other answer
        # is cached for 90 minutes, so a resend would only replay it: the caller decides.
        retry = method == "GET"
        keyed = idempotency_key is not None
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            attempt_started = self._clock()
            answer: _Answer | None = None
            cause: requests.RequestException | None = None
            error: CodatError
            retryable = False
            try:
                response = self._session.request(
                    method,
                    url,
                    data=body.data if body is not None else None,
                    headers=headers,
                    auth=self._auth,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
                answer = _Answer(
                    method=method,
                    path=path,
                    status=response.status_code,
                    headers=response.headers,
                    content=response.content,
                    correlation_id=correlation_id_from_headers(response.headers),
                )
            except requests.Timeout as exc:
                cause = exc
                # After a read timeout on a write, Codat may or may not have acted on it.
                unknown = (
                    "" if retry or isinstance(exc, requests.ConnectTimeout) else "; outcome unknown"
                )
                error = CodatUnavailableError(
                    f"Codat did not answer in time ({type(exc).__name__}{unknown})",
                    method=method,
                    path=path,
                )
                retryable = True
            except requests.ConnectionError as exc:
                cause = exc
                error = CodatUnavailableError(
                    f"Could not connect to Codat ({type(exc).__name__})", method=method, path=path
                )
                retryable = True
            except requests.RequestException as exc:
                cause = exc
                error = CodatUnavailableError(
                    f"The request to Codat failed ({type(exc).__name__})", method=method, path=path
                )
            duration_ms = round((self._clock() - attempt_started) * 1000)

            if answer is not None and 200 <= answer.status < 300:
                self._record(
                    method, path, query, body, answer, None, duration_ms, attempt, idempotency_key
                )
                return answer
            if answer is not None:
                error = error_from_response(
                    answer.status,
                    answer.content,
                    answer.headers,
                    method=method,
                    path=path,
                    idempotency_key=idempotency_key,
                )
                retryable = (
                    answer.status == 429
                    if keyed
                    else answer.status in self._retry_policy.retry_statuses
                )
            else:
                error.idempotency_key = idempotency_key
            self._record(
                method, path, query, body, answer, error, duration_ms, attempt, idempotency_key
            )

            if not (retry or keyed) or not retryable:
                raise error from cause
            retry_after = error.retry_after if isinstance(error, CodatRateLimitedError) else None
            delay = self._retry_policy.next_delay(attempt, self._clock() - started, retry_after)
            if delay is None:
                raise error from cause
            logger.info(
                "Codat %s %s failed (%s); retrying in %.2fs", method, path, error.status, delay
            )
            self._sleep(delay)

    def _parse(self, answer: _Answer, parse: Callable[[Any], T]) -> T:
        try:
            data = json.loads(answer.content)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise CodatProtocolError(
                f"Codat answered {answer.status} with a body that is not JSON",
                status=answer.status,
                correlation_id=answer.correlation_id,
                method=answer.method,
                path=answer.path,
            ) from exc
        try:
            return parse(data)
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise CodatProtocolError(
                f"Codat answered {answer.status} with an unexpected body: {exc!r}",
                status=answer.status,
                correlation_id=answer.correlation_id,
                method=answer.method,
                path=answer.path,
            ) from exc

    def _record(
        self,
        method: str,
        path: str,
        query: str,
        body: _Body | None,
        answer: _Answer | None,
        error: CodatError | None,
        duration_ms: int,
        attempt: int,
        idempotency_key: str | None = None,
    ) -> None:
        if self._on_exchange is None:
            return
        correlation_id = (error.correlation_id if error else None) or (
            answer.correlation_id if answer else None
        )
        exchange = Exchange(
            method=method,
            path=path,
            query=self._scrub(query),
            status=answer.status if answer is not None else None,
            duration_ms=duration_ms,
            correlation_id=correlation_id,
            request_body=_truncate(self._scrub(body.summary)) if body is not None else None,
            response_body=(
                _truncate(self._scrub(answer.content.decode("utf-8", errors="replace")))
                if answer is not None
                else None
            ),
            error=self._scrub(str(error)) if error is not None else None,
            attempt=attempt,
            at=datetime.now(UTC),
            idempotency_key=idempotency_key,
        )
        try:
            self._on_exchange(exchange)
        except Exception:
            # Losing one audit row must never fail (or repeat) a call to Codat.
            logger.exception("on_exchange hook failed for %s %s", method, path)

    def _scrub(self, text: str) -> str:
        # Defence in depth: the key is only ever put in a header, but an echoing proxy or a
        # server error page could reflect it into a body we record. Scrubbed before truncating
        # so a key cut in half at the limit cannot leave a prefix behind.
        for secret in (self._authorization.split(" ", 1)[1], self._api_key):
            text = text.replace(secret, "[redacted]")
        return text


class _KeyAuth(requests.auth.AuthBase):
    """Codat's Basic key, set on each request as the request's own auth. With no auth of its
    own, requests looks for a ~/.netrc entry on every call (a file lookup each time, most of a
    call's own work on a busy worker) and would send that entry's credentials instead of the
    key."""

    def __init__(self, authorization: str) -> None:
        self.authorization = authorization

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.authorization
        return request


def _idempotency_key(value: str | uuid.UUID) -> str:
    """The key as Codat documents it, a GUID; anything else is a caller's bug, refused here."""
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"an Idempotency-Key must be a UUID, not {value!r}") from exc


def _json_body(data: Any) -> _Body:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return _Body(data=text.encode("utf-8"), content_type="application/json", summary=text)


def _truncate(text: str) -> str | None:
    if not text:
        return None
    if len(text) <= EXCHANGE_BODY_LIMIT:
        return text
    return f"{text[:EXCHANGE_BODY_LIMIT]}… [truncated, {len(text)} characters in all]"


def _mapping(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise TypeError("expected a JSON object")
    return data


def _list_of(data: Any, parse: Callable[[Mapping[str, Any]], T]) -> list[T]:
    if not isinstance(data, list):
        raise TypeError("expected a JSON array")
    return [parse(item) for item in data if isinstance(item, Mapping)]


def _str_field(data: Any, key: str) -> str:
    value = _mapping(data)[key]
    if not isinstance(value, str) or not value:
        raise TypeError(f"{key} is not a non-empty string")
    return value
