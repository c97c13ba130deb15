"""Reads behind the notices: what failed in a sync, and what is still failing at a company."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from companies.models import Company, CompanyStatus
from expenses.models import Expense, ExpenseStatus
from syncs.models import (
    FAILED_TRANSACTION_STATUSES,
    PushBatchItem,
    ReceiptUpload,
    Sync,
    SyncState,
    SyncTransaction,
    UploadState,
)
from syncs.plain_words import cause_in_plain_words

# The cause of failed expenses Codat gave no failed result for: the sync failed as a whole.
WHOLE_SYNC = ""
# The expenses a cause's page lists at most.
CAUSE_PAGE_LIMIT = 200


def cause_words(cause: str, *, whole_sync: str = "") -> str:
    """A cause in plain words; `whole_sync` says what ended the sync, for `WHOLE_SYNC`."""
    if cause == WHOLE_SYNC:
        return whole_sync or "The sync ended before writing them"
    return cause_in_plain_words(cause)


def _whole_sync_words(sync: Sync) -> str:
    text = sync.error_message or sync.status_text or "no reason given"
    return f"The sync ended with code {sync.status_code} ({text}) before writing them"


def sync_failures(*, sync: Sync) -> dict[str, object]:
    """What failed in an ended sync, as a notice keeps it: how many of its expenses failed and
    how many for each cause, largest first (`failed` is 0 when none did)."""
    in_sync = Q(pk__in=PushBatchItem.objects.filter(batch__sync=sync).values("expense_id"))
    if sync.update_of_id:
        in_sync |= Q(pk=sync.update_of_id)
    failed = Expense.objects.filter(in_sync, status=ExpenseStatus.FAILED).count()
    groups = list(
        SyncTransaction.objects.filter(
            sync=sync, status__in=FAILED_TRANSACTION_STATUSES, expense__isnull=False
        )
        .order_by()
        .values("cause")
        .annotate(n=Count("pk"))
        .order_by("-n", "cause")
    )
    causes = [[group["cause"], cause_words(group["cause"]), group["n"]] for group in groups]
    explained = sum(group["n"] for group in groups)
    if failed > explained:
        causes.append([WHOLE_SYNC, _whole_sync_words(sync), failed - explained])
    return {"failed": max(failed, explained), "causes": causes}


def _failed_expenses(company: Company) -> QuerySet[Any]:
    """The company's failed expenses, each with the cause and the sync of its latest failed
    result (`WHOLE_SYNC` and none when Codat gave it none)."""
    latest = SyncTransaction.objects.filter(
        expense=OuterRef("pk"), status__in=FAILED_TRANSACTION_STATUSES
    ).order_by("-fetched_at", "-pk")
    return Expense.objects.filter(company=company, status=ExpenseStatus.FAILED).annotate(
        failure_cause=Coalesce(Subquery(latest.values("cause")[:1]), Value(WHOLE_SYNC)),
        failed_in=Subquery(latest.values("sync_id")[:1]),
    )


@dataclass(frozen=True)
class CauseCount:
    cause: str
    words: str
    n: int


@dataclass(frozen=True)
class FailingNow:
    """What is failing at a company now: its failed expenses by cause and, for one cause, the
    expenses themselves (at most `CAUSE_PAGE_LIMIT`)."""

    total: int
    causes: list[CauseCount]
    cause: CauseCount | None
    expenses: list[Expense]


def failing_causes(*, company: Company) -> list[CauseCount]:
    """The company's failed expenses counted by the cause of their latest failure."""
    groups = (
        _failed_expenses(company)
        .order_by()
        .values("failure_cause")
        .annotate(n=Count("pk"))
        .order_by("-n", "failure_cause")
    )
    return [
        CauseCount(cause=g["failure_cause"], words=cause_words(g["failure_cause"]), n=g["n"])
        for g in groups
    ]


def company_failing_now(*, company: Company, cause: str | None) -> FailingNow:
    causes = failing_causes(company=company)
    chosen = next((c for c in causes if c.cause == cause), None)
    expenses: list[Expense] = []
    if cause is not None:
        expenses = list(
            _failed_expenses(company)
            .filter(failure_cause=cause)
            .order_by("-status_changed_at", "pk")[:CAUSE_PAGE_LIMIT]
        )
    return FailingNow(
        total=sum(c.n for c in causes), causes=causes, cause=chosen, expenses=expenses
    )


@dataclass(frozen=True)
class StillFailing:
    """What a company's daily digest says: nothing, when every field is empty."""

    causes: list[CauseCount]
    disconnected_since: datetime | None
    receipts_refused: list[CauseCount]
    stalled_syncs: list[int]

    @property
    def anything(self) -> bool:
        return bool(
            self.causes or self.disconnected_since or self.receipts_refused or self.stalled_syncs
        )


def still_failing(*, company: Company, quiet_since: datetime) -> StillFailing:
    """The company's failures not dealt with yet: failed expenses, a lost connection, receipts
    the ledger refused (not sent again since), pushes not started in Codat since `quiet_since`."""
    from syncs.causes import normalise_cause

    refused: dict[str, int] = {}
    for error, n in (
        ReceiptUpload.objects.filter(sync__company=company, state=UploadState.GAVE_UP)
        .order_by()
        .values("last_error")
        .annotate(n=Count("pk"))
        .values_list("last_error", "n")
    ):
        cause = normalise_cause(receipt_error_cause(error))
        refused[cause] = refused.get(cause, 0) + n
    return StillFailing(
        causes=failing_causes(company=company),
        disconnected_since=company.status_changed_at
        if company.status == CompanyStatus.DISCONNECTED
        else None,
        receipts_refused=[
            CauseCount(cause=cause, words=receipt_words(cause), n=n)
            for cause, n in sorted(refused.items(), key=lambda item: (-item[1], item[0]))
        ],
        stalled_syncs=list(
            Sync.objects.filter(
                company=company, state=SyncState.INITIATING, requested_at__lt=quiet_since
            )
            .order_by("requested_at")
            .values_list("pk", flat=True)
        ),
    )


def receipt_error_cause(last_error: str) -> str:
    """Codat's own words of a receipt upload's error, without the status and correlation id
    the upload keeps after them."""
    return last_error.split(" — ")[0]


def receipt_words(cause: str) -> str:
    words = cause_in_plain_words(cause)
    return words.replace("Codat refused them:", "Codat refused the file:", 1)
