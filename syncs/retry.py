"""Sending failed expenses again once they are fixed ("Retry failed items")."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from companies.models import (
    Company,
)
from expenses.models import ExpenseStatus
from expenses.services import expenses_bulk_transition
from expenses.validation import company_context, expense_problems
from syncs.claim import PushRefused, expenses_with_lines, push_blockers
from syncs.models import (
    PushBatchItem,
    Sync,
)
from syncs.push_requests import company_push_request

logger = logging.getLogger(__name__)


@transaction.atomic
def sync_retry_failed(*, sync: Sync, by: Any = None) -> tuple[int, int]:
    """Send again the sync's failed expenses that are valid now; never a synced one.

    Returns how many go out again and how many still need fixing (they stay failed, with the
    reason on the row).
    """
    ids = list(PushBatchItem.objects.filter(batch__sync=sync).values_list("expense_id", flat=True))
    if sync.update_of_id:
        ids.append(sync.update_of_id)
    outcome = expenses_retry_failed(
        expense_ids=ids, by=by, reason=f"Sent again from sync {sync.codat_sync_id or sync.pk}"
    )
    if outcome.refused:
        raise PushRefused(outcome.refused[0].removeprefix(f"{sync.company.name}: "))
    return outcome.sent, outcome.still


@dataclass(frozen=True)
class RetryOutcome:
    sent: int
    still: int  # failed and still invalid: they need fixing first
    refused: list[str]  # per company that cannot push now, why (its expenses stay failed)


@transaction.atomic
def expenses_retry_failed(
    *, expense_ids: Sequence[Any], by: Any = None, reason: str = "Sent again"
) -> RetryOutcome:
    """Send again those of the expenses (of any companies) that failed and are valid now.

    Each company with expenses to send gets one push request; a company that cannot push now
    keeps its expenses failed and says why in `refused`.
    """
    expenses = expenses_with_lines(expense_ids)
    contexts: dict[int, Any] = {}
    ready: dict[int, list[Any]] = {}
    still = 0
    blocked: dict[int, str] = {}
    for expense in expenses:
        if expense.status != ExpenseStatus.FAILED or expense.company_id in blocked:
            continue
        if expense.company_id not in contexts:
            blockers = push_blockers(company=expense.company)
            if blockers:
                # The company cannot push at all: say that, not that each expense is invalid.
                blocked[expense.company_id] = f"{expense.company.name}: {blockers[0]}"
                continue
            contexts[expense.company_id] = company_context(company=expense.company)
        if expense_problems(expense, list(expense.lines.all()), contexts[expense.company_id]):
            still += 1
        else:
            ready.setdefault(expense.company_id, []).append(expense.pk)
    sent, refused = 0, list(blocked.values())
    for company_id, ids in ready.items():
        company = Company.objects.get(pk=company_id)
        try:
            with transaction.atomic():
                moved = expenses_bulk_transition(
                    expense_ids=ids,
                    current=ExpenseStatus.FAILED,
                    to=ExpenseStatus.APPROVED,
                    by=by,
                    message=reason[:1000],
                )
                if moved:
                    company_push_request(company=company, by=by)
        except PushRefused as refusal:
            refused.append(f"{company.name}: {refusal}")
            continue
        sent += len(moved)
    return RetryOutcome(sent=sent, still=still, refused=refused)
