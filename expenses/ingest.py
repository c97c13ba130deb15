"""Expenses arriving from the card platform (JSON API) or from support (CSV import).

Each item is checked on its own and answered on its own: created, already there (a repeat
with the same content), or refused with the field and the fix. A repeat of an external id with
different content is refused, never silently merged. New expenses run through the rules.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django import forms
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from companies.models import Company
from companies.platforms import types_taken_in
from expenses.models import (
    MAX_AMOUNT,
    EventKind,
    Expense,
    ExpenseEvent,
    ExpenseSource,
    IngestToken,
    acted_as_staff,
)
from expenses.rules import rules_apply, rules_for_company
from sfe_portal.money import MAX_MINOR_UNITS, precision_problem

MAX_BATCH = 1000
# The largest request body the API reads (published in openapi/ingest-v1.json). A thousand
# expenses with short notes fit; a thousand with notes near their 5,000 characters do not.
MAX_BODY_BYTES = 5 * 1024 * 1024 + 512 * 1024
# The fields whose values make an expense what it is: a repeat must match them all.
IDENTITY_FIELDS = (
    "type",
    "issue_date",
    "currency",
    "amount",
    "currency_rate",
    "merchant_name",
    "card_label",
    "employee_name",
)


def _type_choices() -> list[tuple[str, str]]:
    return [(t.value, t.label) for t in types_taken_in()]


class IngestExpenseForm(forms.Form):
    external_id = forms.CharField(max_length=200)
    type = forms.ChoiceField(choices=_type_choices)
    issue_date = forms.DateField(input_formats=["%Y-%m-%d"])
    currency = forms.RegexField(
        regex=r"^[A-Z]{3}$",
        error_messages={"invalid": "Use a three-letter ISO 4217 code in capitals, e.g. GBP."},
    )
    # Decimals as the currency has them: checked in `clean` once the currency is known.
    amount = forms.DecimalField(max_digits=15, decimal_places=MAX_MINOR_UNITS, max_value=MAX_AMOUNT)
    # What one unit of `currency` is worth in the base currency (expenses/currency_rate.py).
    currency_rate = forms.DecimalField(
        max_digits=24, decimal_places=9, required=False, min_value=Decimal("0.000000001")
    )
    merchant_name = forms.CharField(max_length=300, required=False)
    card_label = forms.CharField(max_length=100, required=False)
    employee_name = forms.CharField(max_length=200, required=False)
    notes = forms.CharField(max_length=5000, required=False)

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if amount < 0:
            raise forms.ValidationError(
                "Amounts are never negative: send money coming back as type Refund "
                "(or Chargeback, Reward) with a positive amount."
            )
        return amount

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        amount, currency = cleaned.get("amount"), cleaned.get("currency")
        if amount is not None and currency:
            problem = precision_problem(amount, currency)
            if problem:
                self.add_error("amount", problem)
        return cleaned


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class ItemResult:
    index: int
    external_id: str
    outcome: Literal["created", "existing", "error"]
    expense_id: str | None = None
    errors: list[FieldError] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "external_id": self.external_id,
            "outcome": self.outcome,
            "id": self.expense_id,
            "errors": [{"field": e.field, "message": e.message} for e in self.errors],
        }


# JSON types each field may arrive as; anything else is refused before the form sees it
# (the form's fields expect text: a boolean or an object would break them, not fail them).
_NUMBER_FIELDS = {"amount", "currency_rate"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a number"


def _form_data(item: Mapping[str, Any]) -> tuple[dict[str, str], list[FieldError]]:
    """The item's values as the form reads them (text), and the fields sent as the wrong type."""
    data: dict[str, str] = {}
    errors: list[FieldError] = []
    for name in IngestExpenseForm.base_fields:
        value = item.get(name)
        if value is None:
            data[name] = ""
        elif isinstance(value, str):
            data[name] = value
        elif (
            name in _NUMBER_FIELDS
            and isinstance(value, int | Decimal | float)
            and not (isinstance(value, bool))
        ):
            data[name] = str(value)
        else:
            expected = 'a number or a string like "12.50"' if name in _NUMBER_FIELDS else "a string"
            errors.append(FieldError(name, f"Send {name} as {expected}, not {_json_type(value)}."))
    return data, errors


def _form_errors(form: forms.Form) -> list[FieldError]:
    return [
        FieldError(name, str(message))
        for name, messages in form.errors.items()
        for message in messages
    ]


def _canonical(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):  # 12.5, 12.50 and 12.500000000 are the same amount
        return format(value.normalize(), "f")
    return str(value)


def _identity(values: Mapping[str, Any]) -> dict[str, str]:
    return {name: _canonical(values.get(name)) for name in IDENTITY_FIELDS}


def _conflict(external_id: str, known: dict[str, str], new: dict[str, str]) -> list[FieldError]:
    return [
        FieldError(
            name,
            f"External id '{external_id}' was already received with {name} "
            f"'{known[name]}', not '{new[name]}'. A repeat must send the same values; "
            "correct the expense in the portal, or send the change under a new external id.",
        )
        for name in IDENTITY_FIELDS
        if known[name] != new[name]
    ]


@transaction.atomic
def expenses_ingest(
    *,
    company: Company,
    items: Sequence[Any],
    source: ExpenseSource = ExpenseSource.API,
    by: User | None = None,
) -> list[ItemResult]:
    """Create the valid, new items; report repeats and refusals item by item."""
    results: list[ItemResult] = []
    valid: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            results.append(
                ItemResult(
                    index,
                    "",
                    "error",
                    errors=[FieldError("item", "Each item must be a JSON object.")],
                )
            )
            continue
        form_data, type_errors = _form_data(item)
        form = IngestExpenseForm(data=form_data)
        external_id = str(item.get("external_id", ""))[:200]
        if not form.is_valid() or type_errors:
            errors = type_errors + [
                e for e in _form_errors(form) if e.field not in {t.field for t in type_errors}
            ]
            results.append(ItemResult(index, external_id, "error", errors=errors))
            continue
        data = form.cleaned_data
        # The id as stored: the form strips the whitespace the sender may have left around it.
        external_id = data["external_id"]
        if external_id in valid:
            _, first = valid[external_id]
            conflict = _conflict(external_id, _identity(first), _identity(data))
            results.append(
                ItemResult(index, external_id, "error", errors=conflict)
                if conflict
                else ItemResult(index, external_id, "existing")  # id filled in below
            )
            continue
        valid[external_id] = (index, data)
        results.append(ItemResult(index, external_id, "created"))

    existing = {
        e.external_id: e
        for e in Expense.objects.filter(company=company, external_id__in=list(valid))
    }
    to_create = []
    for external_id, (index, data) in valid.items():
        known = existing.get(external_id)
        result = results[index]
        if known is None:
            to_create.append(Expense(company=company, source=source, **data))
            continue
        conflict = _conflict(external_id, _identity(vars(known)), _identity(data))
        result.outcome, result.errors = ("error", conflict) if conflict else ("existing", [])
        result.expense_id = None if conflict else str(known.pk)

    # Two requests racing with the same new id: the loser's rows are skipped here and then
    # compared like any other repeat.
    Expense.objects.bulk_create(to_create, ignore_conflicts=True)
    stored = {
        e.external_id: e
        for e in Expense.objects.filter(
            company=company, external_id__in=[e.external_id for e in to_create]
        )
    }
    created: list[Expense] = []
    for candidate in to_create:
        row = stored[candidate.external_id]
        result = results[valid[candidate.external_id][0]]
        if row.pk == candidate.pk:
            result.expense_id = str(row.pk)
            created.append(row)
            continue
        conflict = _conflict(row.external_id, _identity(vars(row)), _identity(vars(candidate)))
        result.outcome, result.errors = ("error", conflict) if conflict else ("existing", [])
        result.expense_id = None if conflict else str(row.pk)

    for result in results:  # repeats inside the batch point at the first occurrence
        if result.outcome == "existing" and result.expense_id is None:
            result.expense_id = results[valid[result.external_id][0]].expense_id

    ExpenseEvent.objects.bulk_create(
        ExpenseEvent(
            expense=expense,
            kind=EventKind.CREATED,
            actor=by,
            as_staff=acted_as_staff(by),
            message=f"Received from {ExpenseSource(source).label}",
        )
        for expense in created
    )
    if created:
        rules_apply(expenses=created, rules=rules_for_company(company=company), by=None)
    return results


# --- Tokens -----------------------------------------------------------------------------------


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def ingest_token_create(
    *, name: str, company: Company | None, expires_at: datetime | None = None
) -> tuple[IngestToken, str]:
    """A new key; the plain value is returned once and never stored. `company=None` makes a
    key for every company: callers say so on purpose."""
    raw = "sfe_" + secrets.token_urlsafe(32)
    token = IngestToken.objects.create(
        name=name, prefix=raw[:8], key_hash=_hash(raw), company=company, expires_at=expires_at
    )
    return token, raw


class IngestKeyExpired(Exception):
    def __init__(self, token: IngestToken) -> None:
        super().__init__(f"Ingest key {token} expired")
        self.token = token


def ingest_token_authenticate(*, raw: str) -> IngestToken | None:
    """The active key sent, None for an unknown or revoked one; `IngestKeyExpired` for a key
    past its expiry, so the sender can be told to ask for a new one."""
    if not raw:
        return None
    token = IngestToken.objects.filter(key_hash=_hash(raw), revoked_at__isnull=True).first()
    if token is None:
        return None
    now = timezone.now()
    if token.has_expired(now):
        raise IngestKeyExpired(token)
    IngestToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
