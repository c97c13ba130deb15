"""Coding an expense: its lines (account, tax rate, tracking, amounts), whole or split.

Every change of coding records an `ExpenseEvent` and rechecks the expense, which moves it
between To categorize and Ready as its problems say (`expenses.services`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from django.contrib.auth.models import User
from django.db import transaction

from companies.models import LedgerAccount, TaxRate, TrackingCategory
from expenses.models import EventKind, Expense, ExpenseEvent, ExpenseLine
from expenses.selectors import expense_lines, expense_lines_keep
from expenses.services import (
    ExpenseRefused,
    expense_ensure_editable,
    expense_ensure_same_company,
    expense_refresh_readiness,
    refused_if_changed_meanwhile,
)
from expenses.validation import Problem
from sfe_portal.money import precision_problem, to_precision
from sfe_portal.prefetch import forget_related, related


class Unset(enum.Enum):
    """A coding field the caller leaves as it is (None clears it)."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET


@dataclass
class LineInput:
    net_amount: Decimal
    tax_amount: Decimal = Decimal(0)
    account: LedgerAccount | None = None
    tax_rate: TaxRate | None = None
    tracking: list[TrackingCategory] = field(default_factory=list)
    description: str = ""


def split_gross(
    gross: Decimal, tax_rate: TaxRate | None, currency: str = "GBP"
) -> tuple[Decimal, Decimal]:
    """Net and tax of a tax-inclusive card amount at the rate's effective percentage, the tax
    rounded to the currency's minor unit (none for JPY, a thousandth for BHD)."""
    rate = tax_rate.effective_rate if tax_rate else Decimal(0)
    tax = to_precision(gross * rate / (Decimal(100) + rate), currency)
    return gross - tax, tax


def _describe_lines(lines: Iterable[ExpenseLine], currency: str) -> list[dict[str, Any]]:
    return [
        {
            "net": str(to_precision(line.net_amount, currency)),
            "tax": str(to_precision(line.tax_amount, currency)),
            "account": line.account.codat_id if line.account else None,
            "tax_rate": line.tax_rate.codat_id if line.tax_rate else None,
            "tracking": sorted(c.codat_id for c in related(line, "tracking_categories")),
        }
        for line in lines
    ]


# The private bodies (`_set_lines`, `_lines_replace`) are what services call within their own
# transaction; each public name is the same body in an atomic block (see expenses.services).


@transaction.atomic
def expense_set_lines(
    *, expense: Expense, lines: Sequence[LineInput], by: User | None, source: str = "split"
) -> list[Problem]:
    """Replace the expense's lines (split, or coding of a whole expense) and recheck it."""
    return _set_lines(expense=expense, lines=lines, by=by, source=source)


def _set_lines(
    *, expense: Expense, lines: Sequence[LineInput], by: User | None, source: str
) -> list[Problem]:
    expense_ensure_editable(expense)
    before = _describe_lines(expense_lines(expense), expense.currency)
    _lines_replace(expense=expense, lines=lines)
    after = _describe_lines(
        expense_lines(expense), expense.currency
    )  # the new lines, kept: the recheck reads them
    if before != after:
        ExpenseEvent.objects.create(
            expense=expense,
            kind=EventKind.CODED,
            actor=by,
            message=f"Coding changed ({source})",
            data={"before": before, "after": after},
        )
    with refused_if_changed_meanwhile():
        return expense_refresh_readiness(expense=expense, by=by, edited=before != after)


def _ensure_currency_precision(expense: Expense, lines: Sequence[LineInput]) -> None:
    """Refuses a line amount with more decimals than the expense's currency has."""
    problems = [
        Problem(f"lines[{index}].{name}", problem, "Correct the amount and save again.")
        for index, line in enumerate(lines)
        for name, amount in (("net_amount", line.net_amount), ("tax_amount", line.tax_amount))
        if (problem := precision_problem(amount, expense.currency))
    ]
    if problems:
        raise ExpenseRefused(problems)


_REFRESHED_FIELDS = [
    f.attname
    for f in Expense._meta.concrete_fields
    if f.name not in ("id", "company", "supplier_override")
]


@transaction.atomic
def expense_lines_replace(*, expense: Expense, lines: Sequence[LineInput]) -> None:
    """Replace the lines as given: no status rules (callers decide), same-company refs only.
    The new lines are kept on the expense (sfe_portal.prefetch)."""
    _lines_replace(expense=expense, lines=lines)


def _lines_replace(*, expense: Expense, lines: Sequence[LineInput]) -> None:
    _ensure_currency_precision(expense, lines)
    for line in lines:
        expense_ensure_same_company(expense, [line.account, line.tax_rate, *line.tracking], "lines")
    # Two people coding one row at once take turns here: without the row lock both would
    # delete the old lines and insert position 0, and the second would fail on the constraint.
    # The locked read is also the row as it is now (someone may have changed its status while
    # we waited), keeping the related rows already read: coding changes neither company nor
    # supplier, and nobody else can change the row until this transaction ends.
    locked = Expense.objects.select_for_update().values_list(*_REFRESHED_FIELDS).get(pk=expense.pk)
    for name, value in zip(_REFRESHED_FIELDS, locked, strict=True):
        setattr(expense, name, value)
    _delete_lines(expense)
    created = ExpenseLine.objects.bulk_create(
        ExpenseLine(
            expense=expense,
            position=position,
            description=line.description,
            net_amount=line.net_amount,
            tax_amount=line.tax_amount,
            account=line.account,
            tax_rate=line.tax_rate,
        )
        for position, line in enumerate(lines)
    )
    through = ExpenseLine.tracking_categories.through
    through.objects.bulk_create(
        through(expenseline_id=row.pk, trackingcategory_id=category.pk)
        for row, line in zip(created, lines, strict=True)
        for category in line.tracking
    )
    forget_related(expense, "lines")  # a prefetch of the old lines is stale now
    # What was just written, as a read would return it (with its records and tracking).
    expense_lines_keep(
        expense,
        created,
        {
            row.pk: sorted(line.tracking, key=lambda c: (c.name, c.pk))
            for row, line in zip(created, lines, strict=True)
        },
    )


def _delete_lines(expense: Expense) -> None:
    expense.lines.all().delete()


@transaction.atomic
def expense_set_coding(
    *,
    expense: Expense,
    by: User | None,
    account: LedgerAccount | Unset | None = UNSET,
    tax_rate: TaxRate | Unset | None = UNSET,
    tracking: list[TrackingCategory] | Unset = UNSET,
    source: str = "inline",
) -> list[Problem]:
    """Apply one account / tax rate / tracking to every line (the queue's inline coding).

    An expense without lines gets one line for its whole amount. A new tax rate re-splits each
    line's gross amount into net and tax at that rate.
    """
    current = expense_lines(expense)
    if not current:
        current = [ExpenseLine(expense=expense, net_amount=expense.amount, tax_amount=Decimal(0))]
    inputs = []
    for line in current:
        line_tracking = related(line, "tracking_categories") if line.pk else []
        new_tax = line.tax_rate if tax_rate is UNSET else tax_rate
        net, tax = line.net_amount, line.tax_amount
        if (tax_rate is not UNSET and new_tax != line.tax_rate) or not line.pk:
            net, tax = split_gross(line.net_amount + line.tax_amount, new_tax, expense.currency)
        inputs.append(
            LineInput(
                net_amount=net,
                tax_amount=tax,
                account=line.account if account is UNSET else account,
                tax_rate=new_tax,
                tracking=line_tracking if tracking is UNSET else list(tracking),
                description=line.description,
            )
        )
    return _set_lines(expense=expense, lines=inputs, by=by, source=source)
