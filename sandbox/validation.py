"""Structural validation of expense datasets and updates, answered as Codat does: 400 with one
validation item per problem, `itemId` in .NET path style (`Items[0].Lines[0].NetAmount`), the
DataAnnotations message and the validator's name. Valid input comes back normalised (canonical
type names, amounts as decimal strings) for storage."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.platforms import ALL_TYPES

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


def _lines(c: _Collector, path: str, value: Any, *, bounded: bool) -> list[Item]:
    if value is None:
        if bounded:
            c.required(path, "lines")
        return []
    if not isinstance(value, list):
        c.invalid(path, "lines", value)
        return []
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
    lines = []
    for j, raw in enumerate(value):
        lp = f"{path}Lines[{j}]."
        if not isinstance(raw, dict):
            c.add(f"{path}Lines[{j}]", "The line must be an object.", "Type")
            continue
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
