"""Structural validation of what the sandbox is sent, answered as Codat does: 400 with one
validation item per problem, `itemId` in .NET path style (`Items[0].Lines[0].NetAmount`), the
DataAnnotations message and the validator's name. Valid input comes back normalised (canonical
type names, amounts as decimal strings) for storage.

v1 (datasets `{items}`, updates) first; then the newer generation's bodies: bare arrays of 1-50
expenses, adjustments or reimbursables, one transfer, and the two updates. Whether a platform
can take what was sent (an account on every line, a tax rate, a draft) is the engine's call when
the sync runs, as in v1."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sandbox.platforms import (
    ADJUSTMENT,
    ADJUSTMENT_IN,
    ADJUSTMENT_OUT,
    ALL_TYPES,
    EXPENSE_TYPES,
    REIMBURSABLE,
    TRANSFER,
    TRANSFER_IN,
    TRANSFER_OUT,
)

MAX_AMOUNT = Decimal(5_000_000)
_TYPES_BY_LOWER = {t.lower(): t for t in ALL_TYPES}
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
# Lenient ISO-8601: the sample app's unpadded `2023-5-5` is accepted by Codat too.
_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)

Item = dict[str, Any]


def _cap(name: str) -> str:
    return name[0].upper() + name[1:]


class _Collector:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, item_id: str, message: str, validator: str) -> None:
        self.errors.append({"itemId": item_id, "message": message, "validatorName": validator})

    def required(self, path: str, field: str) -> None:
        self.add(f"{path}{_cap(field)}", f"The {_cap(field)} field is required.", "Required")

    def invalid(self, path: str, field: str, value: Any) -> None:
        self.add(
            f"{path}{_cap(field)}",
            f"The value '{value}' is not valid for {_cap(field)}.",
            "Format",
        )


def parse_issue_date(value: str) -> datetime | None:
    match = _DATE.match(value.strip())
    if not match:
        return None
    year, month, day = (int(match.group(i)) for i in (1, 2, 3))
    hour = int(match.group(4) or 0)
    minute = int(match.group(5) or 0)
    second = int(match.group(6) or 0)
    try:
        return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - a calendar date
    except ValueError:
        return None


def _amount(c: _Collector, path: str, line: dict[str, Any], field: str) -> str | None:
    value = line.get(field)
    if value is None:
        c.required(path, field)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        c.invalid(path, field, value)
        return None
    amount = Decimal(str(value))
    if not (0 <= amount <= MAX_AMOUNT):
        c.add(
            f"{path}{_cap(field)}",
            f"The field {_cap(field)} must be between 0 and 5000000.",
            "Range",
        )
        return None
    return str(amount)


def _ref(
    c: _Collector, path: str, field: str, value: Any, *, required: bool
) -> dict[str, str] | None:
    if value is None:
        if required:
            c.required(path, field)
        return None
    if not isinstance(value, dict):
        c.invalid(path, field, value)
        return None
    ref_id = value.get("id")
    if ref_id is None or not isinstance(ref_id, str | int) or str(ref_id).strip() == "":
        c.add(f"{path}{_cap(field)}.Id", "The Id field is required.", "Required")
        return None
    return {"id": str(ref_id)}


def _line_objects(
    c: _Collector, path: str, value: Any, *, required: bool, bounded: bool
) -> list[tuple[str, dict[str, Any]]] | None:
    """The lines' objects with their item paths; None when there is no list to read."""
    if value is None:
        if required:
            c.required(path, "lines")
        return None
    if not isinstance(value, list):
        c.invalid(path, "lines", value)
        return None
    if bounded and len(value) < 1:
        c.add(
            f"{path}Lines",
            "The field Lines must be a string or array type with a minimum length of '1'.",
            "MinLength",
        )
    if bounded and len(value) > 100:
        c.add(
            f"{path}Lines",
            "The field Lines must be a string or array type with a maximum length of '100'.",
            "MaxLength",
        )
        return []
    objects = []
    for j, raw in enumerate(value):
        if not isinstance(raw, dict):
            c.add(f"{path}Lines[{j}]", "The line must be an object.", "Type")
        else:
            objects.append((f"{path}Lines[{j}].", raw))
    return objects


def _lines(c: _Collector, path: str, value: Any, *, bounded: bool) -> list[Item]:
    lines = []
    for lp, raw in _line_objects(c, path, value, required=bounded, bounded=bounded) or []:
        line: Item = {
            "netAmount": _amount(c, lp, raw, "netAmount"),
            "taxAmount": _amount(c, lp, raw, "taxAmount"),
            "accountRef": _ref(c, lp, "accountRef", raw.get("accountRef"), required=True),
            "taxRateRef": _ref(c, lp, "taxRateRef", raw.get("taxRateRef"), required=False),
        }
        tracking = raw.get("trackingRefs")
        refs: list[dict[str, str]] = []
        if tracking is not None:
            if not isinstance(tracking, list):
                c.invalid(lp, "trackingRefs", tracking)
            elif not 1 <= len(tracking) <= 10:
                bound = "minimum length of '1'" if not tracking else "maximum length of '10'"
                c.add(
                    f"{lp}TrackingRefs",
                    f"The field TrackingRefs must be a string or array type with a {bound}.",
                    "MinLength" if not tracking else "MaxLength",
                )
            else:
                for k, ref in enumerate(tracking):
                    parsed = _ref(c, lp, f"trackingRefs[{k}]", ref, required=True)
                    if parsed:
                        refs.append(parsed)
        line["trackingRefs"] = refs
        lines.append(line)
    return lines


def _transaction(c: _Collector, path: str, raw: Any, *, update: bool) -> Item | None:
    if not isinstance(raw, dict):
        c.add(path.rstrip("."), "The transaction must be an object.", "Type")
        return None
    item: Item = {}
    if not update:
        tx_id = raw.get("id")
        if tx_id is None or tx_id == "":
            c.required(path, "id")
        else:
            try:
                item["id"] = str(uuid.UUID(str(tx_id)))
            except ValueError:
                c.invalid(path, "id", tx_id)
    tx_type = raw.get("type")
    if tx_type is None or tx_type == "":
        c.required(path, "type")
    elif not isinstance(tx_type, str) or tx_type.lower() not in _TYPES_BY_LOWER:
        c.add(
            f"{path}Type",
            f"The value '{tx_type}' is not valid for Type. Valid values: {', '.join(ALL_TYPES)}.",
            "Enum",
        )
    else:
        item["type"] = _TYPES_BY_LOWER[tx_type.lower()]
    issue = raw.get("issueDate")
    if issue is None or issue == "":
        c.required(path, "issueDate")
    elif not isinstance(issue, str) or parse_issue_date(issue) is None:
        c.invalid(path, "issueDate", issue)
    else:
        item["issueDate"] = issue
    currency = raw.get("currency")
    if currency is None or currency == "":
        if not update:
            c.required(path, "currency")
    elif not isinstance(currency, str) or not _CURRENCY.match(currency):
        c.add(
            f"{path}Currency",
            f"The value '{currency}' is not a valid ISO 4217 currency code.",
            "Currency",
        )
    else:
        item["currency"] = currency.upper()
    rate = raw.get("currencyRate")
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, int | float | Decimal):
            c.invalid(path, "currencyRate", rate)
        elif Decimal(str(rate)) <= 0:
            c.add(f"{path}CurrencyRate", "The field CurrencyRate must be greater than 0.", "Range")
        else:
            item["currencyRate"] = str(Decimal(str(rate)))
    contact = raw.get("contactRef")
    if contact is not None:
        if not isinstance(contact, dict) or not contact.get("id"):
            c.add(f"{path}ContactRef.Id", "The Id field is required.", "Required")
        else:
            # The v1 schema says `contactType`; every example says `type`: accept both.
            kind = contact.get("contactType", contact.get("type", "Supplier"))
            if str(kind).lower() not in ("supplier", "1"):
                c.add(
                    f"{path}ContactRef.ContactType",
                    f"The value '{kind}' is not valid for ContactType. Valid values: Supplier.",
                    "Enum",
                )
            else:
                item["contactRef"] = {"id": str(contact["id"]), "contactType": "Supplier"}
    for text_field in ("merchantName", "notes"):
        value = raw.get(text_field)
        if value is not None and not isinstance(value, str):
            c.invalid(path, text_field, value)
        elif value is not None:
            item[text_field] = value
    item["lines"] = _lines(c, path, raw.get("lines"), bounded=not update)
    return item


def validate_dataset(body: Any) -> tuple[list[Item], list[dict[str, Any]]]:
    """`CreateExpenseRequest` → (normalised items, validation errors)."""
    c = _Collector()
    if not isinstance(body, dict):
        c.add("Items", "The request body must be a JSON object with an items array.", "Type")
        return [], c.errors
    raw_items = body.get("items")
    if raw_items is None:
        c.required("", "items")
        return [], c.errors
    if not isinstance(raw_items, list):
        c.invalid("", "items", raw_items)
        return [], c.errors
    if not raw_items:
        c.add(
            "Items",
            "The field Items must be a string or array type with a minimum length of '1'.",
            "MinLength",
        )
    if len(raw_items) > 50:
        c.add(
            "Items",
            "The field Items must be a string or array type with a maximum length of '50'.",
            "MaxLength",
        )
        return [], c.errors
    items = []
    for i, raw in enumerate(raw_items):
        item = _transaction(c, f"Items[{i}].", raw, update=False)
        if item is not None:
            items.append(item)
    return items, c.errors


def validate_update(body: Any) -> tuple[Item, list[dict[str, Any]]]:
    """`UpdateExpenseRequest` → (normalised transaction without id, validation errors)."""
    c = _Collector()
    if not isinstance(body, dict):
        c.add("", "The request body must be a JSON object.", "Type")
        return {}, c.errors
    item = _transaction(c, "", body, update=True) or {}
    return item, c.errors


# --- The newer generation ("Expenses", Codat-Sync-Expenses.json) ---------------------------------

MAX_BATCH = 50
# Codat's 400 texts for the types the newer expense endpoint no longer takes. The transfer text is
# the deprecation post's (docs.codat.io/updates/240314-deprecation-transfer-transaction-type-SFE);
# the adjustment post (…/updates/240607-deprecation-adjustment-transaction-type) announces "the same
# kind of 400", worded here the same way with its own endpoint.
RETIRED_TYPE_TEXT = {
    TRANSFER_IN: "Transfer In/Out transaction type is no longer supported. Please use the "
    "'Create transfer transactions' endpoint.",
    ADJUSTMENT_IN: "Adjustment In/Out transaction type is no longer supported. Please use the "
    "'Create adjustment transactions' endpoint.",
}
RETIRED_TYPE_TEXT[TRANSFER_OUT] = RETIRED_TYPE_TEXT[TRANSFER_IN]
RETIRED_TYPE_TEXT[ADJUSTMENT_OUT] = RETIRED_TYPE_TEXT[ADJUSTMENT_IN]
_EXPENSE_TYPES_BY_LOWER = {t.lower(): t for t in EXPENSE_TYPES}
_TRACKING_TYPES = ("trackingCategories", "customers")
_JOURNAL_TRACKING_TYPES = ("trackingCategories", "customers", "suppliers")

# Every property name of the newer documents' write schemas. Keys are read case-insensitively
# (the transfer guide's example is PascalCase: `"From": {"AccountRef": {"Id": …}}`), and written
# back in the spec's camelCase.
_KEYS = {
    k.lower(): k
    for k in (
        "id",
        "type",
        "issueDate",
        "dueDate",
        "date",
        "currency",
        "currencyRate",
        "contactRef",
        "bankAccountRef",
        "apAccountRef",
        "reference",
        "merchantName",
        "lines",
        "notes",
        "postAsDraft",
        "netAmount",
        "taxAmount",
        "amount",
        "taxRateRef",
        "accountRef",
        "itemRef",
        "trackingRefs",
        "invoiceTo",
        "dataType",
        "description",
        "from",
        "to",
    )
}


def camel_keys(value: Any) -> Any:
    """The body with every known key in the spec's spelling, whatever its letter case."""
    if isinstance(value, dict):
        return {_KEYS.get(str(k).lower(), k): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value


def retired_type(raw: Any) -> str | None:
    """The 400 text when a transaction of the newer expense endpoint carries a v1-only type."""
    items = raw if isinstance(raw, list) else [raw]
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            canonical = _TYPES_BY_LOWER.get(item["type"].lower())
            if canonical in RETIRED_TYPE_TEXT:
                return RETIRED_TYPE_TEXT[canonical]
    return None


def _batch(c: _Collector, body: Any, what: str) -> list[Any]:
    """A bare JSON array of 1-50: `{"items": […]}` or any object is refused."""
    if not isinstance(body, list):
        c.add(
            "",
            f"The request body must be a JSON array of 1 to {MAX_BATCH} {what}, not an object"
            + (" ({items} is the v1 dataset shape)." if isinstance(body, dict) else "."),
            "Type",
        )
        return []
    if not body:
        c.add("", "The array must hold at least one item.", "MinLength")
    if len(body) > MAX_BATCH:
        c.add(
            "", f"The array may hold at most {MAX_BATCH} items; it holds {len(body)}.", "MaxLength"
        )
        return []
    return body


def _uuid(c: _Collector, path: str, raw: dict[str, Any], field: str = "id") -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        c.required(path, field)
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        c.invalid(path, field, value)
        return None


def _date(
    c: _Collector, path: str, raw: dict[str, Any], field: str, *, required: bool = True
) -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        if required:
            c.required(path, field)
        return None
    if not isinstance(value, str) or parse_issue_date(value) is None:
        c.invalid(path, field, value)
        return None
    return value


def _currency(c: _Collector, path: str, raw: dict[str, Any], *, required: bool) -> str | None:
    currency = raw.get("currency")
    if currency is None or currency == "":
        if required:
            c.required(path, "currency")
        return None
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        c.add(
            f"{path}Currency",
            f"The value '{currency}' is not a valid ISO 4217 currency code.",
            "Currency",
        )
        return None
    return currency.upper()


def _rate(c: _Collector, path: str, raw: dict[str, Any], item: Item) -> None:
    rate = raw.get("currencyRate")
    if rate is None:
        return
    if isinstance(rate, bool) or not isinstance(rate, int | float | Decimal):
        c.invalid(path, "currencyRate", rate)
    elif Decimal(str(rate)) <= 0:
        c.add(f"{path}CurrencyRate", "The field CurrencyRate must be greater than 0.", "Range")
    else:
        item["currencyRate"] = str(Decimal(str(rate)))


def _texts(c: _Collector, path: str, raw: dict[str, Any], item: Item, *fields: str) -> None:
    for field in fields:
        value = raw.get(field)
        if value is not None and not isinstance(value, str):
            c.invalid(path, field, value)
        elif value is not None:
            item[field] = value


def _signed(c: _Collector, path: str, raw: dict[str, Any], field: str) -> str | None:
    value = raw.get(field)
    if value is None:
        c.required(path, field)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        c.invalid(path, field, value)
        return None
    amount = Decimal(str(value))
    if abs(amount) > MAX_AMOUNT:
        c.add(
            f"{path}{_cap(field)}",
            f"The field {_cap(field)} must be between -5000000 and 5000000.",
            "Range",
        )
        return None
    return str(amount)


def _tracking(
    c: _Collector, path: str, value: Any, allowed: tuple[str, ...]
) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        c.invalid(path, "trackingRefs", value)
        return []
    if not 1 <= len(value) <= 10:
        bound = "minimum length of '1'" if not value else "maximum length of '10'"
        c.add(
            f"{path}TrackingRefs",
            f"The field TrackingRefs must be a string or array type with a {bound}.",
            "MinLength" if not value else "MaxLength",
        )
        return []
    refs = []
    by_lower = {a.lower(): a for a in allowed}
    for k, ref in enumerate(value):
        parsed = _ref(c, path, f"trackingRefs[{k}]", ref, required=True)
        if parsed is None:
            continue
        data_type = ref.get("dataType") or "trackingCategories"
        if not isinstance(data_type, str) or data_type.lower() not in by_lower:
            c.add(
                f"{path}TrackingRefs[{k}].DataType",
                f"The value '{data_type}' is not valid for DataType. Valid values: "
                f"{', '.join(allowed)}.",
                "Enum",
            )
            continue
        refs.append({"id": parsed["id"], "dataType": by_lower[data_type.lower()]})
    return refs


def _invoice_to(c: _Collector, path: str, value: Any) -> dict[str, str] | None:
    """`invoiceTo{id, type:"customer"}`; the guides also write `"Customer"` and
    `dataType:"customers"`, all read as the same billable customer."""
    if value is None:
        return None
    parsed = _ref(c, path, "invoiceTo", value, required=False)
    if parsed is None:
        return None
    kind = value.get("type", value.get("dataType", "customer"))
    if not isinstance(kind, str) or kind.lower() not in ("customer", "customers"):
        c.add(
            f"{path}InvoiceTo.Type",
            f"The value '{kind}' is not valid for Type. Valid values: customer.",
            "Enum",
        )
        return None
    return parsed


def _newer_lines(
    c: _Collector,
    path: str,
    value: Any,
    *,
    required: bool,
    bounded: bool,
) -> list[Item] | None:
    """Expense and bill lines: only `netAmount` is required by the spec; whether the platform
    needs an account or a tax rate is decided per transaction when the sync runs."""
    objects = _line_objects(c, path, value, required=required, bounded=bounded)
    if objects is None:
        return None
    lines = []
    for lp, raw in objects:
        line: Item = {"netAmount": _amount(c, lp, raw, "netAmount")}
        line["taxAmount"] = (
            _amount(c, lp, raw, "taxAmount") if raw.get("taxAmount") is not None else None
        )
        line["accountRef"] = _ref(c, lp, "accountRef", raw.get("accountRef"), required=False)
        line["taxRateRef"] = _ref(c, lp, "taxRateRef", raw.get("taxRateRef"), required=False)
        line["itemRef"] = _ref(c, lp, "itemRef", raw.get("itemRef"), required=False)
        line["invoiceTo"] = _invoice_to(c, lp, raw.get("invoiceTo"))
        line["trackingRefs"] = _tracking(c, lp, raw.get("trackingRefs"), _TRACKING_TYPES)
        _texts(c, lp, raw, line, "description")
        lines.append(line)
    return lines


def _expense(c: _Collector, path: str, raw: Any, *, update: bool) -> Item | None:
    if not isinstance(raw, dict):
        c.add(path.rstrip(".") or "", "The transaction must be an object.", "Type")
        return None
    item: Item = {}
    if not update:
        tx_id = _uuid(c, path, raw)
        if tx_id:
            item["id"] = tx_id
    tx_type = raw.get("type")
    if tx_type is None or tx_type == "":
        c.required(path, "type")
    elif not isinstance(tx_type, str) or tx_type.lower() not in _EXPENSE_TYPES_BY_LOWER:
        c.add(
            f"{path}Type",
            f"The value '{tx_type}' is not valid for Type. Valid values: "
            f"{', '.join(EXPENSE_TYPES)}.",
            "Enum",
        )
    else:
        item["type"] = _EXPENSE_TYPES_BY_LOWER[tx_type.lower()]
    issued = _date(c, path, raw, "issueDate")
    if issued:
        item["issueDate"] = issued
    currency = _currency(c, path, raw, required=True)
    if currency:
        item["currency"] = currency
    _rate(c, path, raw, item)
    contact = raw.get("contactRef")
    if contact is not None:
        parsed = _ref(c, path, "contactRef", contact, required=False)
        kind = contact.get("type", "Supplier") if isinstance(contact, dict) else None
        if parsed is not None and (not isinstance(kind, str) or kind.lower() != "supplier"):
            c.add(
                f"{path}ContactRef.Type",
                f"The value '{kind}' is not valid for Type. Valid values: Supplier.",
                "Enum",
            )
        elif parsed is not None:
            item["contactRef"] = parsed
    bank = _ref(c, path, "bankAccountRef", raw.get("bankAccountRef"), required=False)
    if bank is not None:
        item["bankAccountRef"] = bank
    _texts(c, path, raw, item, "merchantName", "notes", "reference")
    draft = raw.get("postAsDraft")
    if draft is not None and not isinstance(draft, bool):
        c.invalid(path, "postAsDraft", draft)
    elif draft is not None and not update:
        item["postAsDraft"] = draft
    lines = _newer_lines(c, path, raw.get("lines"), required=False, bounded=not update)
    if lines is not None:
        item["lines"] = lines
    return item


Parser = Callable[[_Collector, str, Any], "Item | None"]


def _each(body: Any, what: str, parse: Parser) -> tuple[list[Item], list[dict[str, Any]]]:
    c = _Collector()
    items = []
    for i, raw in enumerate(_batch(c, body, what)):
        item = parse(c, f"[{i}].", raw)
        if item is not None:
            items.append(item)
    return items, c.errors


def _one(body: Any, parse: Parser) -> tuple[Item, list[dict[str, Any]]]:
    c = _Collector()
    if not isinstance(body, dict):
        c.add("", "The request body must be a JSON object.", "Type")
        return {}, c.errors
    return parse(c, "", body) or {}, c.errors


def validate_expenses(body: Any) -> tuple[list[Item], list[dict[str, Any]]]:
    """`CreateExpenseRequest` (a bare array of 1-50 `ExpenseTransaction`s)."""
    return _each(body, "expense transactions", partial(_expense, update=False))


def validate_expense_update(body: Any) -> tuple[Item, list[dict[str, Any]]]:
    """`UpdateExpenseRequest` of the newer generation: type, issueDate and currency required."""
    return _one(body, partial(_expense, update=True))


def _side(c: _Collector, raw: dict[str, Any], side: str) -> dict[str, str] | None:
    value = raw.get(side)
    if value is None:
        c.required("", side)
        return None
    if not isinstance(value, dict):
        c.invalid("", side, value)
        return None
    path = f"{_cap(side)}."
    account = _ref(c, path, "accountRef", value.get("accountRef"), required=True)
    amount = _amount(c, path, value, "amount")
    if amount is not None and Decimal(amount) == 0:
        c.add(f"{path}Amount", "The field Amount must be greater than 0.", "Range")
        return None
    if account is None or amount is None:
        return None
    return {"accountId": account["id"], "amount": amount}


def validate_transfer(body: Any, transaction_id: str) -> tuple[Item, list[dict[str, Any]]]:
    """`TransferTransactionRequest`: one transfer, its id in the path."""
    c = _Collector()
    if not isinstance(body, dict):
        c.add("", "The request body must be a JSON object.", "Type")
        return {}, c.errors
    if not 0 < len(transaction_id) <= 36:
        c.add("TransactionId", "The transaction id must be 1 to 36 characters.", "Length")
    item: Item = {"id": transaction_id, "type": TRANSFER}
    date = _date(c, "", body, "date")
    if date:
        item["date"] = date
    _texts(c, "", body, item, "description")
    for side in ("from", "to"):
        parsed = _side(c, body, side)
        if parsed is not None:
            item[side] = parsed
    return item, c.errors


def _adjustment(c: _Collector, path: str, raw: Any) -> Item | None:
    if not isinstance(raw, dict):
        c.add(path.rstrip("."), "The transaction must be an object.", "Type")
        return None
    item: Item = {"type": ADJUSTMENT}
    tx_id = _uuid(c, path, raw)
    if tx_id:
        item["id"] = tx_id
    date = _date(c, path, raw, "date")
    if date:
        item["date"] = date
    currency = _currency(c, path, raw, required=True)
    if currency:
        item["currency"] = currency
    _rate(c, path, raw, item)
    _texts(c, path, raw, item, "reference")
    raw_lines = raw.get("lines")
    lines: list[Item] = []
    if raw_lines is None:
        c.required(path, "lines")
    elif not isinstance(raw_lines, list) or not 1 <= len(raw_lines) <= 100:
        c.add(f"{path}Lines", "The field Lines must hold 1 to 100 lines.", "Length")
    else:
        for j, raw_line in enumerate(raw_lines):
            lp = f"{path}Lines[{j}]."
            if not isinstance(raw_line, dict):
                c.add(f"{path}Lines[{j}]", "The line must be an object.", "Type")
                continue
            line: Item = {
                "amount": _signed(c, lp, raw_line, "amount"),
                "accountRef": _ref(c, lp, "accountRef", raw_line.get("accountRef"), required=True),
                "trackingRefs": _tracking(
                    c, lp, raw_line.get("trackingRefs"), _JOURNAL_TRACKING_TYPES
                ),
                "invoiceTo": _invoice_to(c, lp, raw_line.get("invoiceTo")),
            }
            _texts(c, lp, raw_line, line, "description")
            lines.append(line)
    item["lines"] = lines
    return item


def validate_adjustments(body: Any) -> tuple[list[Item], list[dict[str, Any]]]:
    """`CreateAdjustmentRequest`: 1-50 journals of signed lines (+debit / -credit)."""
    return _each(body, "adjustment transactions", _adjustment)


def _reimbursable(c: _Collector, path: str, raw: Any, *, update: bool) -> Item | None:
    if not isinstance(raw, dict):
        c.add(path.rstrip(".") or "", "The transaction must be an object.", "Type")
        return None
    item: Item = {"type": REIMBURSABLE}
    if not update:
        tx_id = _uuid(c, path, raw)
        if tx_id:
            item["id"] = tx_id
    contact = _ref(c, path, "contactRef", raw.get("contactRef"), required=True)
    if contact is not None:
        item["contactRef"] = contact
    ap_account = _ref(c, path, "apAccountRef", raw.get("apAccountRef"), required=False)
    if ap_account is not None:
        item["apAccountRef"] = ap_account
    for field in ("issueDate", "dueDate"):
        value = _date(c, path, raw, field)
        if value:
            item[field] = value
    currency = _currency(c, path, raw, required=True)
    if currency:
        item["currency"] = currency
    _rate(c, path, raw, item)
    _texts(c, path, raw, item, "reference", "notes")
    lines = _newer_lines(c, path, raw.get("lines"), required=False, bounded=True)
    if lines is not None:
        item["lines"] = lines
    return item


def validate_reimbursables(body: Any) -> tuple[list[Item], list[dict[str, Any]]]:
    """`ReimbursableExpenseTransactionRequest`: 1-50 bills against an employee-as-supplier."""
    return _each(body, "reimbursable expense transactions", partial(_reimbursable, update=False))


def validate_reimbursable_update(body: Any) -> tuple[Item, list[dict[str, Any]]]:
    return _one(body, partial(_reimbursable, update=True))
