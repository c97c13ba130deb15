"""Reads about syncs, and the pages that show an expense or a company's queue together with
what its syncs did (this app is the lowest layer that may read both)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils.dateparse import parse_datetime

from companies.models import Company
from expenses.currency_rate import in_base_currency, rate_currency
from expenses.ledger import (
    currency_rate_needed,
    expense_item,
    expense_ledger_reading,
    ledger_lines,
)
from expenses.models import Expense, ExpenseLine, ExpenseStatus, Receipt
from expenses.receipts import receipt_preview_kind
from expenses.selectors import CodingChoices, TabCount, coding_choices, queue_counts
from expenses.validation import CompanyContext, Problem, company_context, expense_problems
from syncs import fast_sql
from syncs.models import (
    PushBatch,
    PushBatchItem,
    ReceiptUpload,
    Sync,
    SyncKind,
    SyncState,
    SyncTransaction,
    TransactionStatus,
    UploadState,
)


def sync_results_for_expense(*, expense: Expense) -> list[SyncTransaction]:
    """Every result Codat gave for this expense, newest sync first, with its sync loaded."""
    return list(
        SyncTransaction.objects.filter(expense=expense)
        .select_related("sync")
        .order_by("-sync__requested_at")
    )


# --- The expense page -------------------------------------------------------------------------


@dataclass
class ReceiptView:
    receipt: Receipt
    preview: str  # "image" | "pdf" | "other"
    uploaded: bool


@dataclass
class ExpenseDetail:
    expense: Expense
    lines: list[ExpenseLine]
    problems: list[Problem]
    context: CompanyContext
    choices: CodingChoices
    receipts: list[ReceiptView]
    events: list[Any]
    sync_results: list[SyncTransaction]
    payload: str  # the JSON that will be sent, or "" while the expense is not ready
    reading: list[str]
    supplier_override_allowed: bool
    tax_rate_needed: bool
    rate_needed: bool
    # The currency the rate converts from, and the expense in the base currency at its rate.
    rate_currency: str
    base_amount: Decimal | None
    line_total: Decimal


def expense_detail(*, company: Company, expense_id: uuid.UUID) -> ExpenseDetail:
    """Everything the expense page shows, in a fixed number of queries."""
    expense = Expense.objects.select_related("company", "supplier_override", "approved_by").get(
        company=company, pk=expense_id
    )
    lines = ledger_lines(expense=expense)
    ctx = company_context(company=company)
    problems = expense_problems(expense, lines, ctx)
    payload = ""
    if not problems:
        payload = json.dumps(
            expense_item(expense=expense, lines=lines, ctx=ctx), indent=2, default=str
        )
    receipts = list(
        Receipt.objects.filter(expense=expense)
        .annotate(was_uploaded=Exists(_uploaded_receipts()))
        .order_by("created_at")
    )
    return ExpenseDetail(
        expense=expense,
        lines=lines,
        problems=problems,
        context=ctx,
        choices=coding_choices(company=company),
        receipts=[
            ReceiptView(r, receipt_preview_kind(r), bool(getattr(r, "was_uploaded", False)))
            for r in receipts
        ],
        events=list(expense.events.select_related("actor").order_by("-created_at", "-id")),
        sync_results=sync_results_for_expense(expense=expense),
        payload=payload,
        reading=expense_ledger_reading(expense=expense, lines=lines, ctx=ctx),
        supplier_override_allowed=ctx.rules.takes_supplier_override(expense.type),
        tax_rate_needed=ctx.rules.needs_tax_rate(expense.type),
        rate_needed=currency_rate_needed(expense=expense, ctx=ctx),
        rate_currency=rate_currency(
            expense_currency=expense.currency,
            bank_currency=ctx.bank_account_currency,
            base=ctx.base_currency,
        ),
        base_amount=(
            in_base_currency(expense.amount, expense.currency_rate, ctx.base_currency)
            if expense.currency_rate is not None
            and ctx.base_currency
            and expense.currency != ctx.base_currency
            else None
        ),
        line_total=sum((line.net_amount + line.tax_amount for line in lines), Decimal(0)),
    )


def _uploaded_receipts() -> QuerySet[ReceiptUpload]:
    return ReceiptUpload.objects.filter(receipt=OuterRef("pk"), state=UploadState.UPLOADED)


SYNC_RESULT_EXPORT_COLUMNS = (
    "Sync",
    "Codat transaction id",
    "Result",
    "What it means",
    "Date",
    "Merchant",
    "Amount",
    "Currency",
    "External id",
    "Expense now",
)


def sync_results_export_rows(*, sync: Sync) -> Iterator[list[Any]]:
    """The sync's per-transaction results as export rows, in the order its page lists them."""
    return sync_transactions_export_rows(
        results=SyncTransaction.objects.filter(sync=sync).order_by("status", "transaction_id")
    )


def sync_transactions_export_rows(*, results: QuerySet[SyncTransaction]) -> Iterator[list[Any]]:
    """Results as export rows (`SYNC_RESULT_EXPORT_COLUMNS`), read in chunks as they are
    consumed: one query, however many rows, and one chunk in memory."""
    from syncs.plain_words import plain_words

    transaction_status = dict(TransactionStatus.choices)
    expense_status = dict(ExpenseStatus.choices)
    for row in results.select_related("sync", "expense").iterator(chunk_size=2_000):
        expense = row.expense
        words = row.message
        if expense is not None and row.status != TransactionStatus.COMPLETED:
            words = plain_words(row.message, expense)
        yield [
            row.sync.codat_sync_id or f"#{row.sync_id}",
            row.transaction_id,
            transaction_status.get(row.status, row.status),
            words,
            expense.issue_date if expense else None,
            expense.merchant_name if expense else "",
            expense.amount if expense else None,
            expense.currency if expense else "",
            expense.external_id if expense else "",
            expense_status.get(expense.status, expense.status) if expense else "",
        ]


@dataclass(frozen=True)
class SyncProgress:
    """A push (all the syncs one claim made: one, or one per batch in a generation that
    starts a sync per batch) or a correction, as its newest sync and counts over them all."""

    sync: Sync
    batches_total: int
    batches_posted: int
    expenses: int
    synced: int
    failed: int
    receipts_total: int
    receipts_uploaded: int
    pushing: int = 0
    syncing: int = 0
    receipts_gave_up: int = 0  # uploads that need support's attention: no longer tried
    syncs_total: int = 1
    syncs_initiating: int = 0  # being sent to Codat (or not started yet)
    syncs_in_progress: int = 0  # Codat is writing them
    started_at: datetime | None = None  # when the push's first sync was made

    @property
    def in_flight(self) -> bool:
        """A push whose expenses are not settled yet (an update of one synced expense is not
        a push, and receipts still uploading do not hold up the next push)."""
        return self.sync.kind == SyncKind.PUSH and bool(
            self.syncs_initiating + self.syncs_in_progress
        )

    @property
    def uploading_receipts(self) -> bool:
        return self.receipts_uploaded + self.receipts_gave_up < self.receipts_total

    @property
    def finished(self) -> bool:
        return self.stage == "Finished"

    @property
    def stage(self) -> str:
        """Where the push is, in words finance staff use."""
        if self.syncs_initiating:
            return f"Sending batches to Codat ({self.batches_posted} of {self.batches_total})"
        if self.syncs_in_progress:
            if self.syncs_total > 1:
                done = self.syncs_total - self.syncs_in_progress
                return f"Codat is writing to the ledger ({done} of {self.syncs_total} syncs done)"
            code = (
                f" — {self.sync.status_text} ({self.sync.status_code})"
                if self.sync.status_code
                else ""
            )
            return f"Codat is writing to the ledger{code}"
        if self.uploading_receipts:
            return f"Uploading receipts ({self.receipts_uploaded} of {self.receipts_total})"
        return "Finished"


@dataclass(frozen=True)
class PushPanel:
    """The workspace's push button and what it says about the company's pushes.

    A push is in flight from the moment it is requested (`requested_at`, before any worker
    has made its sync) until its sync is settled; the button is disabled meanwhile."""

    ready_to_push: int
    blockers: list[str]
    recent: list[SyncProgress]
    requested_at: datetime | None = None  # a push asked for and not yet taken up by a worker
    requested: bool = False  # ... and asked for moments ago (`PUSH_REQUEST_WAIT`)
    # The queue's tab counts, read with the approved count when the caller did not count it.
    tabs: list[TabCount] = field(default_factory=list)

    @property
    def request_not_taken_up(self) -> bool:
        """Requested so long ago that no worker seems to be taking it up."""
        return self.requested_at is not None and not self.requested

    @property
    def in_flight(self) -> bool:
        return self.requested or any(p.in_flight for p in self.recent)

    @property
    def active(self) -> bool:
        """Whether the panel follows something: it polls while true."""
        return self.in_flight or any(not p.finished for p in self.recent)

    @property
    def can_push(self) -> bool:
        return bool(self.ready_to_push) and not self.blockers and not self.in_flight

    @property
    def shown(self) -> list[SyncProgress]:
        """The syncs the panel shows: those not finished; with none, the latest one, unless a
        push was just requested (the previous push's "Finished" would read as the new one's)."""
        following = [p for p in self.recent if not p.finished]
        if following or self.requested:
            return following
        return self.recent[:1]


def _datetime(value: datetime | str | None) -> datetime | None:
    """A time a raw statement computed: SQLite hands it back as text."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        return parsed.replace(tzinfo=UTC) if parsed and parsed.tzinfo is None else parsed
    return value


def push_panel(*, company: Company, recent: int = 3, ready_to_push: int | None = None) -> PushPanel:
    """The workspace's push button and the progress of the company's latest syncs, read from
    our own tables only (a page never waits on Codat), the syncs and their progress in one
    query. `ready_to_push`: the company's approved count, when the caller has counted it;
    else it is counted with the queue's tab counts (`tabs`), in one query."""
    from syncs.claim import push_blockers
    from syncs.push_requests import company_push_requested

    progress = [
        SyncProgress(
            sync=s,
            started_at=_datetime(s.started_at),
            **{name: getattr(s, name) for name in fast_sql.PROGRESS_COUNTS},
        )
        for s in fast_sql.recent_syncs_with_progress(company_id=company.pk, recent=recent)
    ]
    tabs: list[TabCount] = []
    if ready_to_push is None:
        tabs, ready_to_push = queue_counts(company=company)
    return PushPanel(
        ready_to_push=ready_to_push,
        blockers=push_blockers(company=company),
        recent=progress,
        requested_at=company.push_requested_at,
        requested=company_push_requested(company=company),
        tabs=tabs,
    )


def company_syncs_page(*, company: Company, page: int | str = 1, per_page: int = 25) -> Page[Sync]:
    """The company's syncs, newest first, one page."""
    syncs = Sync.objects.filter(company=company).order_by("-requested_at", "-pk")
    return Paginator(syncs, per_page).get_page(page)


@dataclass(frozen=True)
class ResultRow:
    result: SyncTransaction
    words: str


@dataclass(frozen=True)
class SyncDetail:
    sync: Sync
    batches: Sequence[PushBatch]
    results: list[ResultRow]
    uploads: list[ReceiptUpload]
    expense_ids: list[UUID]
    failed_now: int  # the sync's expenses that are failed today (what a retry would look at)

    @property
    def configuration(self) -> list[tuple[str, Any]]:
        """The configuration snapshot as (label, record) pairs, e.g. ("Bank account", {...})."""
        snapshot = self.sync.configuration_snapshot or {}
        return [(key.replace("_", " ").capitalize(), value) for key, value in snapshot.items()]


def sync_expense_ids(*, sync: Sync) -> list[UUID]:
    ids = list(PushBatchItem.objects.filter(batch__sync=sync).values_list("expense_id", flat=True))
    if sync.update_of_id:
        ids.append(sync.update_of_id)
    return ids


def sync_detail(*, company: Company, sync_pk: int) -> SyncDetail:
    """One sync of the company with everything its page shows; 404 for another company's."""
    from django.shortcuts import get_object_or_404

    from syncs.plain_words import plain_words

    sync = get_object_or_404(Sync.objects.select_related("company"), company=company, pk=sync_pk)
    batches = list(
        PushBatch.objects.filter(sync=sync).annotate(n=Count("items")).order_by("created_at")
    )
    results = [
        ResultRow(
            result=row,
            words=(
                plain_words(row.message, row.expense)
                if row.expense is not None and row.status != "Completed"
                else row.message
            ),
        )
        for row in SyncTransaction.objects.filter(sync=sync)
        .select_related("expense")
        .order_by("status", "transaction_id")
    ]
    uploads = list(
        ReceiptUpload.objects.filter(sync=sync)
        .select_related("receipt", "receipt__expense")
        .order_by("created_at", "pk")
    )
    ids = sync_expense_ids(sync=sync)
    failed_now = Expense.objects.filter(pk__in=ids, status=ExpenseStatus.FAILED).count()
    return SyncDetail(
        sync=sync,
        batches=batches,
        results=results,
        uploads=uploads,
        expense_ids=ids,
        failed_now=failed_now,
    )


def quiet_pushes(*, quiet_since: datetime) -> list[int]:
    """The companies whose push has waited since before `quiet_since` to be sent while none of
    their batches was sent since: a push still sending touches its batches every turn, so only
    a quiet one was dropped by a dead worker (or a lost message). Each company once, however
    many of its syncs wait: in the newer generation each batch is a sync of its own, and those
    waiting their turn behind the ones being sent are not quiet."""
    sent_lately = PushBatch.objects.filter(
        company_id=OuterRef("company_id"), posted_at__gte=quiet_since
    )
    return sorted(
        set(
            Sync.objects.filter(state=SyncState.INITIATING, requested_at__lt=quiet_since)
            .exclude(Exists(sent_lately))
            .values_list("company_id", flat=True)
        )
    )
