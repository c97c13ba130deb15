"""Correcting an expense that is already in the ledger, through the update endpoint of the
generation of Codat's expenses API the company speaks.

Which platforms and types each generation can update is `PlatformRules.updates_supported_types`.
The new coding is saved when the correction is requested and the previous one is kept on the
update sync, so a correction Codat refuses is undone and the expense reads again exactly as the
ledger has it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from codat import (
    CodatError,
    CodatNotFoundError,
    CodatUnprocessableError,
    CodatValidationError,
)
from companies.platforms import Platform, TransactionType, rules_for, update_support_sentence
from expenses.coding import LineInput, expense_lines_replace
from expenses.ledger import expense_item, expense_to_update, ledger_lines
from expenses.models import EventKind, Expense, ExpenseEvent, ExpenseStatus
from expenses.services import ExpenseRefused, expense_transition
from expenses.validation import Problem, company_context, expense_problems
from gateway.apis import expenses_api_for
from syncs.initiate import FIRST_POLL_AFTER
from syncs.models import Sync, SyncKind, SyncState
from syncs.services import sync_fail_unstarted, syncs_move


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


def correction_allowed(*, expense: Expense) -> Problem | None:
    """Why this expense cannot be corrected through Codat, or None when it can."""
    api = expense.company.expenses_api
    rules = rules_for(expense.company.platform, api)
    platform = Platform(expense.company.platform).label
    if expense.status != ExpenseStatus.SYNCED:
        return Problem(
            "status",
            "Only an expense already in the ledger is corrected this way.",
            "Edit it in the workspace instead.",
        )
    if expense.type in rules.transfer_types and not rules.updates(expense.type):
        return Problem(
            "type",
            f"{platform} takes transfers from {rules.api_name} as new records only: a transfer "
            "once written cannot be changed through Codat.",
            f"Correct it in {platform} directly, or ask the customer's accountant to.",
        )
    if not rules.updates(expense.type):
        return Problem(
            "type",
            f"Codat cannot change a synced {TransactionType(expense.type).label.lower()} in "
            f"{platform}: {update_support_sentence(api)}.",
            f"Correct it in {platform} directly, or ask the customer's accountant to.",
        )
    return None


def _payload(expense: Expense) -> dict[str, Any]:
    """The expense as the company's generation writes it (what a correction makes of it)."""
    ctx = company_context(company=expense.company)
    return expense_item(expense=expense, lines=ledger_lines(expense=expense), ctx=ctx)


def _coding(expense: Expense) -> list[dict[str, Any]]:
    """The expense's lines as an item's lines (what `_lines_from` reads back), whatever shape
    its item has (a transfer's names no lines)."""
    return [
        {
            "netAmount": str(line.net_amount),
            "taxAmount": str(line.tax_amount),
            "accountRef": {"id": line.account.codat_id if line.account else None},
            "taxRateRef": {"id": line.tax_rate.codat_id} if line.tax_rate else None,
            "trackingRefs": [
                {"id": category.codat_id} for category in line.tracking_categories.all()
            ],
        }
        for line in ledger_lines(expense=expense)
    ]


def _flatten(payload: dict[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in payload.items():
        if key == "lines":
            for i, line in enumerate(value):
                for name, item in line.items():
                    flat[f"Line {i + 1} {name}"] = json.dumps(item, sort_keys=True, default=str)
        elif key != "id":
            flat[key] = json.dumps(value, sort_keys=True, default=str)
    return flat


@transaction.atomic
def expense_correction_preview(*, expense: Expense, lines: Sequence[LineInput]) -> list[Change]:
    """The field-level difference the correction would make in the ledger (nothing is kept)."""
    before = _flatten(_payload(expense))
    sid = transaction.savepoint()
    try:
        expense_lines_replace(expense=expense, lines=lines)
        after = _flatten(_payload(expense))
    finally:
        transaction.savepoint_rollback(sid)
    return [
        Change(name, before.get(name, "—"), after.get(name, "—"))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


@transaction.atomic
def expense_correct_request(*, expense: Expense, lines: Sequence[LineInput], by: User) -> Sync:
    """Save the corrected coding and plan the update sync; the task sends it after commit."""
    from syncs.tasks import send_update

    refusal = correction_allowed(expense=expense)
    if refusal:
        raise ExpenseRefused([refusal])
    previous = _payload(expense)
    previous_lines = _coding(expense)
    changes = expense_correction_preview(expense=expense, lines=lines)
    expense_lines_replace(expense=expense, lines=lines)
    ctx = company_context(company=expense.company)
    problems = expense_problems(expense, ledger_lines(expense=expense), ctx)
    if problems:
        raise ExpenseRefused(problems)  # the atomic block puts the old lines back
    sync = Sync.objects.create(
        company=expense.company,
        kind=SyncKind.UPDATE,
        expenses_api=expense.company.expenses_api,
        update_of=expense,
        configuration_snapshot={"previous": previous, "previous_lines": previous_lines},
    )
    ExpenseEvent.objects.create(
        expense=expense,
        kind=EventKind.CODED,
        actor=by,
        message="Correction of the ledger record requested",
        data={"changes": [vars(c) for c in changes]},
    )
    expense_transition(
        expense=expense, to=ExpenseStatus.SYNCING, by=by, message="Correction sent to Codat"
    )
    transaction.on_commit(lambda: send_update.delay(sync.pk))
    return sync


def sync_send_update(*, sync: Sync) -> Sync:
    """Send a planned correction; Codat answers with the sync that rewrites the record."""
    if sync.state != SyncState.INITIATING or sync.update_of is None:
        return sync
    expense = sync.update_of
    # In the generation the correction was requested in (the sync's), whatever the company
    # speaks since.
    ctx = company_context(company=expense.company, api=sync.expenses_api)
    update = expense_to_update(expense=expense, lines=ledger_lines(expense=expense), ctx=ctx)
    try:
        codat_sync_id = expenses_api_for(sync.company, generation=sync.expenses_api).update(
            str(sync.company.codat_company_id), str(expense.pk), update
        )
    except (CodatUnprocessableError, CodatValidationError, CodatNotFoundError) as refused:
        return _undo(sync, refused)
    syncs_move(
        Sync.objects.filter(pk=sync.pk),
        state=SyncState.IN_PROGRESS,
        current=SyncState.INITIATING,
        codat_sync_id=codat_sync_id,
        initiate_requested_at=timezone.now(),
        next_poll_at=timezone.now() + FIRST_POLL_AFTER,
    )
    sync.refresh_from_db()
    return sync


@transaction.atomic
def _undo(sync: Sync, refused: CodatError) -> Sync:
    """Codat refused the correction: the ledger is unchanged, so our coding goes back too."""
    expense = sync.update_of
    assert expense is not None
    snapshot = sync.configuration_snapshot
    # The lines as they were; a correction asked before they were kept has its item's.
    previous = snapshot.get("previous_lines", snapshot.get("previous", {}).get("lines", []))
    expense_lines_replace(expense=expense, lines=_lines_from(expense, previous))
    reason = f"Codat refused the correction: {refused.message}"
    sync_fail_unstarted(sync=sync, reason=reason)
    expense_transition(expense=expense, to=ExpenseStatus.SYNCED, message=reason[:1000])
    sync.refresh_from_db()
    return sync


def _lines_from(expense: Expense, lines: list[dict[str, Any]]) -> list[LineInput]:
    from decimal import Decimal

    from companies.models import LedgerAccount, TaxRate, TrackingCategory

    company = expense.company
    result = []
    for line in lines:
        result.append(
            LineInput(
                net_amount=Decimal(str(line["netAmount"])),
                tax_amount=Decimal(str(line["taxAmount"])),
                account=LedgerAccount.objects.filter(
                    company=company, codat_id=line["accountRef"]["id"]
                ).first(),
                tax_rate=TaxRate.objects.filter(
                    company=company, codat_id=(line.get("taxRateRef") or {}).get("id")
                ).first(),
                tracking=list(
                    TrackingCategory.objects.filter(
                        company=company,
                        codat_id__in=[ref["id"] for ref in line.get("trackingRefs", [])],
                    )
                ),
            )
        )
    return result
