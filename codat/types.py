"""Typed shapes of what the client sends to and reads from Codat.

Responses are frozen dataclasses built by `from_api(dict)`: they keep the fields the portal uses
and ignore any others, so Codat adding a field never breaks a read. A missing required field
raises `KeyError`/`TypeError`/`ValueError`, which the client turns into `CodatProtocolError`.
Requests are dataclasses with `to_api()`, which leaves out unset optional fields (the v1
document is OpenAPI 3.1, where `nullable` means nothing, so sending `null` would not conform).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")

TRANSACTION_TYPES = (
    "Payment",
    "Refund",
    "Reward",
    "Chargeback",
    "TransferIn",
    "TransferOut",
    "AdjustmentIn",
    "AdjustmentOut",
)
# The newer "Expenses" generation keeps only these; transfers and adjustments have endpoints.
EXPENSE_TRANSACTION_TYPES = ("Payment", "Refund", "Reward", "Chargeback")
MAX_TRANSACTIONS_PER_DATASET = 50
# Expenses generation: a create call carries 1 to 50 items and starts its own sync.
MAX_TRANSACTIONS_PER_REQUEST = 50
MAX_LINES_PER_TRANSACTION = 100
MAX_TRACKING_REFS_PER_LINE = 10


# ---- reading helpers -------------------------------------------------------------------------


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_decimal(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        result = Decimal(str(value))
    except ArithmeticError:
        return None
    return result if result.is_finite() else None


def parse_datetime(value: Any) -> datetime | None:
    """Codat's DateTime strings, with or without offset; a missing offset means UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _opt_datetime(data: Mapping[str, Any], key: str) -> datetime | None:
    return parse_datetime(data.get(key))


def _str_tuple(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _objects(
    data: Mapping[str, Any], key: str, parse: Callable[[Mapping[str, Any]], T]
) -> tuple[T, ...]:
    value = data.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(parse(item) for item in value if isinstance(item, Mapping))


def _str_map(data: Mapping[str, Any], key: str) -> dict[str, str]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str | int | float)}


def _ref_id(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return _opt_str(value, "id") if isinstance(value, Mapping) else None


def _is_deleted(data: Mapping[str, Any]) -> bool:
    metadata = data.get("metadata")
    return isinstance(metadata, Mapping) and metadata.get("isDeleted") is True


# ---- paging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a Codat list: `results` plus the `PagingInfo` envelope."""

    results: tuple[T, ...]
    page_number: int
    page_size: int
    total_results: int | None
    has_next_link: bool | None  # None when the answer carried no `_links` at all

    @classmethod
    def from_api(
        cls,
        data: Mapping[str, Any],
        parse: Callable[[Mapping[str, Any]], T],
        *,
        page: int,
        page_size: int,
    ) -> Page[T]:
        results = data["results"]
        if not isinstance(results, list):
            raise TypeError("results is not a list")
        links = data.get("_links")
        return cls(
            results=tuple(parse(item) for item in results if isinstance(item, Mapping)),
            page_number=_opt_int(data, "pageNumber") or page,
            page_size=_opt_int(data, "pageSize") or page_size,
            total_results=_opt_int(data, "totalResults"),
            has_next_link=(
                isinstance(links.get("next"), Mapping) if isinstance(links, Mapping) else None
            ),
        )

    @property
    def is_last(self) -> bool:
        if not self.results or len(self.results) < self.page_size:
            return True
        if self.has_next_link is False:
            return True
        return (
            self.total_results is not None
            and self.page_number * self.page_size >= self.total_results
        )


# ---- companies and connections ----------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    id: str
    platform_name: str | None
    status: str | None
    source_type: str | None
    integration_id: str | None = None
    integration_key: str | None = None
    source_id: str | None = None
    link_url: str | None = None
    created: datetime | None = None
    last_sync: datetime | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Connection:
        return cls(
            id=_str(data, "id"),
            platform_name=_opt_str(data, "platformName"),
            status=_opt_str(data, "status"),
            source_type=_opt_str(data, "sourceType"),
            integration_id=_opt_str(data, "integrationId"),
            integration_key=_opt_str(data, "integrationKey"),
            source_id=_opt_str(data, "sourceId"),
            link_url=_opt_str(data, "linkUrl"),
            created=_opt_datetime(data, "created"),
            last_sync=_opt_datetime(data, "lastSync"),
        )


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    description: str | None = None
    redirect: str | None = None
    created: datetime | None = None
    last_sync: datetime | None = None
    products: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    connections: tuple[Connection, ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Company:
        return cls(
            id=_str(data, "id"),
            name=_str(data, "name"),
            description=_opt_str(data, "description"),
            redirect=_opt_str(data, "redirect"),
            created=_opt_datetime(data, "created"),
            last_sync=_opt_datetime(data, "lastSync"),
            products=_str_tuple(data, "products"),
            tags=_str_map(data, "tags"),
            connections=_objects(data, "dataConnections", Connection.from_api),
        )


@dataclass(frozen=True)
class CompanyRequest:
    """Body of create-company (all of it) and update-company (only the fields set)."""

    name: str | None = None
    description: str | None = None
    tags: Mapping[str, str] | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.name is not None:
            body["name"] = self.name
        if self.description is not None:
            body["description"] = self.description
        if self.tags is not None:
            body["tags"] = dict(self.tags)
        return body


# ---- configuration and mapping options --------------------------------------------------------


@dataclass(frozen=True)
class CompanyConfiguration:
    """The company's fallback bank account, supplier and customer for expenses."""

    bank_account_id: str | None
    supplier_id: str | None
    customer_id: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CompanyConfiguration:
        return cls(
            bank_account_id=_ref_id(data, "bankAccount"),
            supplier_id=_ref_id(data, "supplier"),
            customer_id=_ref_id(data, "customer"),
        )

    def to_api(self) -> dict[str, Any]:
        # All three objects are required by the schema even when an id is not chosen yet.
        def ref(value: str | None) -> dict[str, str]:
            return {"id": value} if value is not None else {}

        return {
            "bankAccount": ref(self.bank_account_id),
            "supplier": ref(self.supplier_id),
            "customer": ref(self.customer_id),
        }


@dataclass(frozen=True)
class AccountMappingInfo:
    id: str | None
    name: str | None
    currency: str | None
    account_type: str | None
    valid_transaction_types: tuple[str, ...]
    # Sent by the Expenses generation only; None when the answer has no `validFor` (v1's).
    # `valid_for` holds e.g. "expense-transactions.Payment", "transfer-transactions".
    valid_for: tuple[str, ...] | None = None
    is_bank_account: bool | None = None
    nominal_code: str | None = None
    fully_qualified_category: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> AccountMappingInfo:
        return cls(
            id=_opt_str(data, "id"),
            name=_opt_str(data, "name"),
            currency=_opt_str(data, "currency"),
            account_type=_opt_str(data, "accountType"),
            valid_transaction_types=_str_tuple(data, "validTransactionTypes"),
            valid_for=_str_tuple(data, "validFor") if "validFor" in data else None,
            is_bank_account=_opt_bool(data, "isBankAccount"),
            nominal_code=_opt_str(data, "nominalCode"),
            fully_qualified_category=_opt_str(data, "fullyQualifiedCategory"),
        )


@dataclass(frozen=True)
class TrackingCategoryMappingInfo:
    id: str | None
    name: str | None
    parent_id: str | None
    has_children: bool
    modified_date: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TrackingCategoryMappingInfo:
        return cls(
            id=_opt_str(data, "id"),
            name=_opt_str(data, "name"),
            parent_id=_opt_str(data, "parentId"),
            has_children=_opt_bool(data, "hasChildren") or False,
            modified_date=_opt_datetime(data, "modifiedDate"),
        )


@dataclass(frozen=True)
class TaxRateMappingInfo:
    id: str | None
    name: str | None
    code: str | None
    effective_tax_rate: Decimal | None
    total_tax_rate: Decimal | None
    valid_transaction_types: tuple[str, ...]

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TaxRateMappingInfo:
        return cls(
            id=_opt_str(data, "id"),
            name=_opt_str(data, "name"),
            code=_opt_str(data, "code"),
            effective_tax_rate=_opt_decimal(data, "effectiveTaxRate"),
            total_tax_rate=_opt_decimal(data, "totalTaxRate"),
            valid_transaction_types=_str_tuple(data, "validTransactionTypes"),
        )


@dataclass(frozen=True)
class MappingOptions:
    expense_provider: str | None
    accounts: tuple[AccountMappingInfo, ...]
    tracking_categories: tuple[TrackingCategoryMappingInfo, ...]
    tax_rates: tuple[TaxRateMappingInfo, ...]

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> MappingOptions:
        return cls(
            expense_provider=_opt_str(data, "expenseProvider"),
            accounts=_objects(data, "accounts", AccountMappingInfo.from_api),
            tracking_categories=_objects(
                data, "trackingCategories", TrackingCategoryMappingInfo.from_api
            ),
            tax_rates=_objects(data, "taxRates", TaxRateMappingInfo.from_api),
        )


# ---- expense transactions (requests) ----------------------------------------------------------


def _amount(value: Decimal) -> float:
    """A Decimal as a JSON number, refusing any value a float would not carry exactly.

    JSON has no decimal type; Codat reads numbers. Amounts (≤ 5,000,000, a few decimal places)
    and rates (≤ 9 decimal places) fit in a double's 15 significant digits, so the text written
    is the same digits the portal holds. Anything else is an error, never a silent rounding.
    """
    as_float = float(value)
    if not value.is_finite() or Decimal(repr(as_float)) != value:
        raise ValueError(f"{value} cannot be sent as a JSON number without losing precision")
    return as_float


def _issue_date(value: date | datetime | str) -> str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()
    return value


@dataclass(frozen=True)
class ContactRef:
    id: str
    # The v1 schema names this field `contactType` (docs examples say `type`); send the schema's.
    contact_type: str = "Supplier"

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "contactType": self.contact_type}


@dataclass(frozen=True)
class ExpenseLine:
    net_amount: Decimal
    tax_amount: Decimal
    account_id: str
    tax_rate_id: str | None = None
    tracking_ids: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        if len(self.tracking_ids) > MAX_TRACKING_REFS_PER_LINE:
            raise ValueError(f"a line takes at most {MAX_TRACKING_REFS_PER_LINE} tracking refs")
        body: dict[str, Any] = {
            "netAmount": _amount(self.net_amount),
            "taxAmount": _amount(self.tax_amount),
            "accountRef": {"id": self.account_id},
        }
        if self.tax_rate_id is not None:
            body["taxRateRef"] = {"id": self.tax_rate_id}
        if self.tracking_ids:
            body["trackingRefs"] = [{"id": tracking_id} for tracking_id in self.tracking_ids]
        return body


def _expense_fields(
    *,
    type: str,
    issue_date: date | datetime | str,
    currency: str | None,
    currency_rate: Decimal | None,
    contact: ContactRef | None,
    merchant_name: str | None,
    notes: str | None,
    lines: Sequence[ExpenseLine] | None,
) -> dict[str, Any]:
    if type not in TRANSACTION_TYPES:
        raise ValueError(f"unknown transaction type {type!r}")
    body: dict[str, Any] = {"type": type, "issueDate": _issue_date(issue_date)}
    if currency is not None:
        body["currency"] = currency
    if currency_rate is not None:
        body["currencyRate"] = _amount(currency_rate)
    if contact is not None:
        body["contactRef"] = contact.to_api()
    if merchant_name is not None:
        body["merchantName"] = merchant_name
    if lines is not None:
        body["lines"] = [line.to_api() for line in lines]
    if notes is not None:
        body["notes"] = notes
    return body


@dataclass(frozen=True)
class ExpenseTransaction:
    """One item of create-expense-dataset. `id` is the expense's UUID, its Codat id for life."""

    id: str
    type: str
    issue_date: date | datetime | str
    currency: str
    lines: tuple[ExpenseLine, ...]
    currency_rate: Decimal | None = None
    contact: ContactRef | None = None
    merchant_name: str | None = None
    notes: str | None = None

    def to_api(self) -> dict[str, Any]:
        if not 1 <= len(self.lines) <= MAX_LINES_PER_TRANSACTION:
            raise ValueError(
                f"transaction {self.id} needs 1 to {MAX_LINES_PER_TRANSACTION} lines, "
                f"not {len(self.lines)}"
            )
        return {
            "id": self.id,
            **_expense_fields(
                type=self.type,
                issue_date=self.issue_date,
                currency=self.currency,
                currency_rate=self.currency_rate,
                contact=self.contact,
                merchant_name=self.merchant_name,
                notes=self.notes,
                lines=self.lines,
            ),
        }


@dataclass(frozen=True)
class ExpenseUpdate:
    """Body of update-expense: `type` and `issue_date` are required, the rest replace if set."""

    type: str
    issue_date: date | datetime | str
    currency: str | None = None
    currency_rate: Decimal | None = None
    contact: ContactRef | None = None
    merchant_name: str | None = None
    notes: str | None = None
    lines: tuple[ExpenseLine, ...] | None = None

    def to_api(self) -> dict[str, Any]:
        return _expense_fields(
            type=self.type,
            issue_date=self.issue_date,
            currency=self.currency,
            currency_rate=self.currency_rate,
            contact=self.contact,
            merchant_name=self.merchant_name,
            notes=self.notes,
            lines=self.lines,
        )


# ---- the newer "Expenses" generation (requests) ----------------------------------------------
#
# Codat-Sync-Expenses.json. Classes named `…V2` replace a v1 class of the same name for this
# generation; the v1 classes above stay as they are for v1 companies.


def _ref(value: str) -> dict[str, str]:
    return {"id": value}


@dataclass(frozen=True)
class TrackingRef:
    """A tracking category (or, where Codat allows, a customer or supplier) on a line.

    `data_type` is sent only when set; Codat's default is `trackingCategories`.
    """

    id: str
    data_type: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id}
        if self.data_type is not None:
            body["dataType"] = self.data_type
        return body


def _tracking(refs: Sequence[TrackingRef]) -> list[dict[str, Any]]:
    if len(refs) > MAX_TRACKING_REFS_PER_LINE:
        raise ValueError(f"a line takes at most {MAX_TRACKING_REFS_PER_LINE} tracking refs")
    return [ref.to_api() for ref in refs]


@dataclass(frozen=True)
class ExpenseLineV2:
    """A line of an expense or reimbursable expense: only `net_amount` is required.

    `account_id` may be left out only on QuickBooks Desktop, where `item_id` replaces it;
    `invoice_to_customer_id` makes the line billable (QuickBooks only).
    """

    net_amount: Decimal
    tax_amount: Decimal | None = None
    account_id: str | None = None
    tax_rate_id: str | None = None
    item_id: str | None = None
    tracking_refs: tuple[TrackingRef, ...] = ()
    invoice_to_customer_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"netAmount": _amount(self.net_amount)}
        if self.tax_amount is not None:
            body["taxAmount"] = _amount(self.tax_amount)
        if self.tax_rate_id is not None:
            body["taxRateRef"] = _ref(self.tax_rate_id)
        if self.account_id is not None:
            body["accountRef"] = _ref(self.account_id)
        if self.item_id is not None:
            body["itemRef"] = _ref(self.item_id)
        if self.tracking_refs:
            body["trackingRefs"] = _tracking(self.tracking_refs)
        if self.invoice_to_customer_id is not None:
            body["invoiceTo"] = {"id": self.invoice_to_customer_id, "type": "customer"}
        return body


def _lines(owner: str, lines: Sequence[Any]) -> list[dict[str, Any]]:
    if not 1 <= len(lines) <= MAX_LINES_PER_TRANSACTION:
        raise ValueError(
            f"transaction {owner} needs 1 to {MAX_LINES_PER_TRANSACTION} lines, not {len(lines)}"
        )
    return [line.to_api() for line in lines]


@dataclass(frozen=True, kw_only=True)
class ExpenseUpdateV2:
    """Body of update-expense-transaction: `type`, `issue_date` and `currency` are required.

    Also the fields a new expense shares with an update (`ExpenseTransactionV2`).
    """

    type: str
    issue_date: date | datetime | str
    currency: str
    currency_rate: Decimal | None = None
    supplier_id: str | None = None
    bank_account_id: str | None = None
    merchant_name: str | None = None
    notes: str | None = None
    lines: tuple[ExpenseLineV2, ...] | None = None

    def to_api(self) -> dict[str, Any]:
        if self.type not in EXPENSE_TRANSACTION_TYPES:
            raise ValueError(
                f"{self.type!r} is not an expense transaction type of Codat's Expenses API "
                f"({', '.join(EXPENSE_TRANSACTION_TYPES)}); transfers and adjustments have "
                "endpoints of their own"
            )
        body: dict[str, Any] = {
            "type": self.type,
            "issueDate": _issue_date(self.issue_date),
            "currency": self.currency,
        }
        if self.currency_rate is not None:
            body["currencyRate"] = _amount(self.currency_rate)
        if self.supplier_id is not None:
            body["contactRef"] = {"id": self.supplier_id, "type": "Supplier"}
        if self.bank_account_id is not None:
            body["bankAccountRef"] = _ref(self.bank_account_id)
        if self.merchant_name is not None:
            body["merchantName"] = self.merchant_name
        if self.lines is not None:
            body["lines"] = _lines("update", self.lines)
        if self.notes is not None:
            body["notes"] = self.notes
        return body


@dataclass(frozen=True, kw_only=True)
class ExpenseTransactionV2(ExpenseUpdateV2):
    """One item of create-expense-transaction. `id` is the expense's UUID, its Codat id for life.

    Lines are required here (1 to 100). `bank_account_id` overrides the company configuration's
    bank account for this transaction; `post_as_draft` is honoured by Dynamics only.
    """

    id: str
    reference: str | None = None
    post_as_draft: bool | None = None

    def to_api(self) -> dict[str, Any]:
        body = {"id": self.id, **super().to_api(), "lines": _lines(self.id, self.lines or ())}
        if self.reference is not None:
            body["reference"] = self.reference
        if self.post_as_draft is not None:
            body["postAsDraft"] = self.post_as_draft
        return body


@dataclass(frozen=True)
class TransferTransaction:
    """Body of create-transfer-transaction (a PUT by transaction id that creates or updates).

    Each amount is in its own account's currency; Codat infers the rate from the two. `id`, the
    transaction id, goes in the path, never in the body: it is kept here so that a transfer
    planned for later knows where it is sent.
    """

    date: date | datetime | str
    from_account_id: str
    from_amount: Decimal
    to_account_id: str
    to_amount: Decimal
    description: str | None = None
    id: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "date": _issue_date(self.date),
            "from": {"accountRef": _ref(self.from_account_id), "amount": _amount(self.from_amount)},
            "to": {"accountRef": _ref(self.to_account_id), "amount": _amount(self.to_amount)},
        }
        if self.description is not None:
            body["description"] = self.description
        return body


@dataclass(frozen=True)
class AdjustmentLine:
    """A journal line: a positive `amount` debits the account, a negative one credits it."""

    amount: Decimal
    account_id: str
    tracking_refs: tuple[TrackingRef, ...] = ()
    invoice_to_customer_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"amount": _amount(self.amount), "accountRef": _ref(self.account_id)}
        if self.tracking_refs:
            body["trackingRefs"] = _tracking(self.tracking_refs)
        if self.invoice_to_customer_id is not None:
            body["invoiceTo"] = {"id": self.invoice_to_customer_id, "type": "customer"}
        return body


@dataclass(frozen=True)
class AdjustmentTransaction:
    """One item of create-adjustment-transaction, written as a journal entry."""

    id: str
    date: date | datetime | str
    currency: str
    lines: tuple[AdjustmentLine, ...]
    currency_rate: Decimal | None = None
    reference: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "date": _issue_date(self.date),
            "currency": self.currency,
            "lines": _lines(self.id, self.lines),
        }
        if self.currency_rate is not None:
            body["currencyRate"] = _amount(self.currency_rate)
        if self.reference is not None:
            body["reference"] = self.reference
        return body


@dataclass(frozen=True)
class ReimbursableExpenseUpdate:
    """Body of update-reimbursable-expense-transaction; also every field of a new one but `id`.

    `employee_supplier_id` is the employee as a supplier in the reimbursement's currency;
    `ap_account_id` is read by QuickBooks Desktop only.
    """

    employee_supplier_id: str
    issue_date: date | datetime | str
    due_date: date | datetime | str
    currency: str
    lines: tuple[ExpenseLineV2, ...]
    currency_rate: Decimal | None = None
    reference: str | None = None
    ap_account_id: str | None = None
    notes: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "contactRef": _ref(self.employee_supplier_id),
            "issueDate": _issue_date(self.issue_date),
            "dueDate": _issue_date(self.due_date),
            "currency": self.currency,
            "lines": _lines("reimbursable expense", self.lines),
        }
        if self.currency_rate is not None:
            body["currencyRate"] = _amount(self.currency_rate)
        if self.reference is not None:
            body["reference"] = self.reference
        if self.ap_account_id is not None:
            body["apAccountRef"] = _ref(self.ap_account_id)
        if self.notes is not None:
            body["notes"] = self.notes
        return body


@dataclass(frozen=True)
class ReimbursableExpense:
    """One item of create-reimbursable-expense-transaction, written as a bill to the employee."""

    id: str
    expense: ReimbursableExpenseUpdate

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, **self.expense.to_api()}


@dataclass(frozen=True)
class SyncStarted:
    """The answer to a write of the Expenses generation: Codat has started this sync for it."""

    sync_id: str
    idempotency_key: str | None = None


# ---- syncs and transaction status ------------------------------------------------------------


@dataclass(frozen=True)
class SyncStatus:
    """Codat's `CompanySyncStatus`: the truth about a sync (webhooks only hint at it)."""

    sync_id: str | None
    company_id: str | None
    sync_status_code: int | None
    sync_status: str | None
    error_message: str | None
    sync_exception_message: str | None
    sync_utc: datetime | None
    data_pushed: bool | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> SyncStatus:
        return cls(
            sync_id=_opt_str(data, "syncId"),
            company_id=_opt_str(data, "companyId"),
            sync_status_code=_opt_int(data, "syncStatusCode"),
            sync_status=_opt_str(data, "syncStatus"),
            error_message=_opt_str(data, "errorMessage"),
            sync_exception_message=_opt_str(data, "syncExceptionMessage"),
            sync_utc=_opt_datetime(data, "syncUtc"),
            data_pushed=_opt_bool(data, "dataPushed"),
        )

    @property
    def in_progress(self) -> bool:
        return self.sync_status_code is not None and 1000 <= self.sync_status_code < 2000

    @property
    def succeeded(self) -> bool:
        return self.sync_status_code is not None and 2000 <= self.sync_status_code < 3000


@dataclass(frozen=True, slots=True)  # a sync's results are held by the tens of thousands
class TransactionMetadata:
    transaction_id: str | None
    status: str | None
    message: str | None
    integration_type: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TransactionMetadata:
        return cls(
            transaction_id=_opt_str(data, "transactionId"),
            status=_opt_str(data, "status"),
            message=_opt_str(data, "message"),
            integration_type=_opt_str(data, "integrationType"),
        )


@dataclass(frozen=True)
class Attachment:
    id: str
    company_id: str | None
    transaction_id: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Attachment:
        return cls(
            id=_str(data, "id"),
            company_id=_opt_str(data, "companyId"),
            transaction_id=_opt_str(data, "transactionId"),
        )


# ---- accounting data (platform endpoints outside the v1 document) -----------------------------


@dataclass(frozen=True)
class CompanyInfo:
    company_name: str | None
    base_currency: str | None
    ledger_lock_date: datetime | None
    source_urls: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CompanyInfo:
        return cls(
            company_name=_opt_str(data, "companyName"),
            base_currency=_opt_str(data, "baseCurrency"),
            ledger_lock_date=_opt_datetime(data, "ledgerLockDate"),
            source_urls=_str_map(data, "sourceUrls"),
        )


@dataclass(frozen=True)
class Account:
    id: str
    name: str | None
    nominal_code: str | None
    fully_qualified_name: str | None
    currency: str | None
    type: str | None
    status: str | None
    is_bank_account: bool
    is_deleted: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Account:
        return cls(
            id=_str(data, "id"),
            name=_opt_str(data, "name"),
            nominal_code=_opt_str(data, "nominalCode"),
            fully_qualified_name=_opt_str(data, "fullyQualifiedName"),
            currency=_opt_str(data, "currency"),
            type=_opt_str(data, "type"),
            status=_opt_str(data, "status"),
            is_bank_account=_opt_bool(data, "isBankAccount") or False,
            is_deleted=_is_deleted(data),
        )


@dataclass(frozen=True)
class BankAccount:
    id: str
    account_name: str | None
    account_type: str | None
    nominal_code: str | None
    currency: str | None
    status: str | None
    is_deleted: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> BankAccount:
        return cls(
            id=_str(data, "id"),
            account_name=_opt_str(data, "accountName"),
            account_type=_opt_str(data, "accountType"),
            nominal_code=_opt_str(data, "nominalCode"),
            currency=_opt_str(data, "currency"),
            status=_opt_str(data, "status"),
            is_deleted=_is_deleted(data),
        )


@dataclass(frozen=True)
class Supplier:
    id: str
    supplier_name: str | None
    status: str | None
    default_currency: str | None
    is_deleted: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Supplier:
        return cls(
            id=_str(data, "id"),
            supplier_name=_opt_str(data, "supplierName"),
            status=_opt_str(data, "status"),
            default_currency=_opt_str(data, "defaultCurrency"),
            is_deleted=_is_deleted(data),
        )


@dataclass(frozen=True)
class Customer:
    id: str
    customer_name: str | None
    status: str | None
    default_currency: str | None
    is_deleted: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Customer:
        return cls(
            id=_str(data, "id"),
            customer_name=_opt_str(data, "customerName"),
            status=_opt_str(data, "status"),
            default_currency=_opt_str(data, "defaultCurrency"),
            is_deleted=_is_deleted(data),
        )


@dataclass(frozen=True)
class TrackingCategory:
    id: str
    name: str | None
    status: str | None
    parent_id: str | None
    has_children: bool
    is_deleted: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TrackingCategory:
        return cls(
            id=_str(data, "id"),
            name=_opt_str(data, "name"),
            status=_opt_str(data, "status"),
            parent_id=_opt_str(data, "parentId"),
            has_children=_opt_bool(data, "hasChildren") or False,
            is_deleted=_is_deleted(data),
        )


@dataclass(frozen=True)
class TaxRate:
    id: str
    name: str | None
    code: str | None
    status: str | None
    effective_tax_rate: Decimal | None
    total_tax_rate: Decimal | None
    is_deleted: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TaxRate:
        return cls(
            id=_str(data, "id"),
            name=_opt_str(data, "name"),
            code=_opt_str(data, "code"),
            status=_opt_str(data, "status"),
            effective_tax_rate=_opt_decimal(data, "effectiveTaxRate"),
            total_tax_rate=_opt_decimal(data, "totalTaxRate"),
            is_deleted=_is_deleted(data),
        )


@dataclass(frozen=True)
class DataStatus:
    """Freshness of one cached data type (`chartOfAccounts`, `suppliers`, …)."""

    data_type: str
    current_status: str | None
    last_successful_sync: datetime | None
    latest_sync_id: str | None
    latest_successful_sync_id: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> DataStatus:
        return cls(
            data_type=_str(data, "dataType"),
            current_status=_opt_str(data, "currentStatus"),
            last_successful_sync=_opt_datetime(data, "lastSuccessfulSync"),
            latest_sync_id=_opt_str(data, "latestSyncId"),
            latest_successful_sync_id=_opt_str(data, "latestSuccessfulSyncId"),
        )
