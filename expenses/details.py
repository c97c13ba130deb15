"""An expense's details beside its coding: notes, currency rate and the supplier it is recorded
against. Each change records what changed and rechecks the expense (`expenses.services`)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction

from companies.models import Supplier
from companies.platforms import ContactKind
from expenses.models import EventKind, Expense, ExpenseEvent
from expenses.services import (
    ExpenseRefused,
    expense_ensure_editable,
    expense_ensure_same_company,
    expense_readiness,
    expense_refresh_readiness,
)
from expenses.validation import Problem, company_context


@transaction.atomic
def expense_update_details(
    *,
    expense: Expense,
    by: User | None,
    notes: str,
    currency_rate: Decimal | None,
    supplier_override: Supplier | None,
) -> list[Problem]:
    """Change the notes, the currency rate and the supplier override; record what changed.

    Saving the form with the rate on it is the check a flagged rate waits for
    (`currency_rate_to_check`), so the flag is cleared and the confirmation recorded."""
    expense_ensure_editable(expense)
    expense_ensure_same_company(expense, [supplier_override], "supplier_override")
    before = {
        "notes": expense.notes,
        "currency_rate": str(expense.currency_rate) if expense.currency_rate is not None else None,
        "supplier_override": expense.supplier_override.name if expense.supplier_override else None,
    }
    expense.notes = notes
    expense.currency_rate = currency_rate
    expense.supplier_override = supplier_override
    after = {
        "notes": notes,
        "currency_rate": str(currency_rate) if currency_rate is not None else None,
        "supplier_override": supplier_override.name if supplier_override else None,
    }
    rate_checked = bool(expense.currency_rate_to_check)
    if rate_checked:
        before["currency_rate_to_check"] = expense.currency_rate_to_check
        after["currency_rate_to_check"] = ""
        expense.currency_rate_to_check = ""
    if before == after:
        return expense_readiness(expense)
    expense.save(
        update_fields=[
            "notes",
            "currency_rate",
            "currency_rate_to_check",
            "supplier_override",
            "updated_at",
        ]
    )
    changed = sorted(
        name for name in after if before[name] != after[name] and name != "currency_rate_to_check"
    )
    message = "Changed " + ", ".join(name.replace("_", " ") for name in changed) if changed else ""
    if rate_checked:
        message = "; ".join(filter(None, [message, "Currency rate checked"]))
    ExpenseEvent.objects.create(
        expense=expense,
        kind=EventKind.CODED,
        actor=by,
        message=message,
        data={"before": before, "after": after},
    )
    return expense_refresh_readiness(expense=expense, by=by, edited=True)


@transaction.atomic
def expense_set_supplier(
    *, expense: Expense, supplier: Supplier | None, by: User | None
) -> list[Problem]:
    """Set (or with None, remove) the supplier the expense is recorded against, where the
    platform takes a supplier per transaction for this type; refused with the reason where not."""
    expense_ensure_editable(expense)
    expense_ensure_same_company(expense, [supplier], "supplier_override")
    if supplier is not None:
        ctx = company_context(company=expense.company)
        if not ctx.rules.supplier_per_transaction:
            raise ExpenseRefused(
                [
                    Problem(
                        "supplier_override",
                        f"{ctx.platform_label} cannot take a supplier per transaction.",
                        "Leave the supplier to the company's default.",
                    )
                ]
            )
        if ctx.rules.contact_for(expense.type) != ContactKind.SUPPLIER:
            raise ExpenseRefused(
                [
                    Problem(
                        "supplier_override",
                        f"{ctx.platform_label} records {expense.get_type_display()} "
                        "transactions against the default customer, not a supplier.",
                        "Leave this expense out of the selection.",
                    )
                ]
            )
    return expense_update_details(
        expense=expense,
        by=by,
        notes=expense.notes,
        currency_rate=expense.currency_rate,
        supplier_override=supplier,
    )
