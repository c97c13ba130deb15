"""Claiming approved expenses into a push: the local plan, written before any call."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Field, ForeignKey, Model, Prefetch

from codat.expenses_api import EXPENSE_TRANSACTIONS
from companies.models import (
    Company,
    CompanyConfiguration,
    LedgerAccount,
    TaxRate,
    TrackingCategory,
)
from companies.selectors import company_push_blockers
from expenses.ledger import expense_item
from expenses.models import Expense, ExpenseLine, ExpenseStatus
from expenses.services import ExpenseRefused, expense_refresh_readiness, expenses_bulk_transition
from expenses.validation import CompanyContext, company_context
from gateway.apis import one_sync_per_batch
from sfe_portal.prefetch import keep_related
from syncs.fast_sql import batch_items_insert, company_share_lock
from syncs.models import (
    MAX_BATCH_SIZE,
    PushBatch,
    PushBatchItem,
    Sync,
    SyncKind,
    SyncState,
)
from syncs.side_by_side import SideBySide
from syncs.v1_shutdown import v1_push_refusal

logger = logging.getLogger(__name__)


# Expenses read, checked and planned per slice (one transaction each) while claiming a push.
CLAIM_CHUNK = 1000


class PushRefused(Exception):
    """The company cannot push now; the message says why and how to fix it."""


def push_blockers(*, company: Company) -> list[str]:
    """What stops the company from pushing, in plain words with the fix: first, once Codat has
    switched v1 off, a company still on v1 (its fix is the cut-over)."""
    retired = v1_push_refusal(company=company)
    blockers = company_push_blockers(company=company)
    return [retired, *blockers] if retired else blockers


def expenses_with_lines(ids: Sequence[Any]) -> list[Expense]:
    lines = ExpenseLine.objects.select_related("account", "tax_rate").order_by("position")
    return list(
        Expense.objects.filter(pk__in=list(ids))
        .select_related("supplier_override", "company")
        .prefetch_related(Prefetch("lines", queryset=lines.prefetch_related("tracking_categories")))
        .order_by("issue_date", "id")
    )


def push_request_end(company: Company) -> None:
    """The company's push request is taken up by a claim, or refused: nothing waits for it."""
    Company.objects.filter(pk=company.pk, push_requested_at__isnull=False).update(
        push_requested_at=None
    )
    company.push_requested_at = None


@dataclass
class Claim:
    """What a claim left to send: its push's sync (`sync`), or where each batch has a sync of
    its own, the first of them; `syncs` all of the company's syncs now waiting to be sent."""

    sync: Sync | None
    claimed: int = 0
    sent_back: int = 0
    syncs: list[Sync] = field(default_factory=list)


@dataclass
class _Plan:
    """What a claim holds across its slices: the company's chart, read once."""

    company: Company
    # The generation the claim writes its syncs and batches through (the company's, as read
    # under its row lock), with what it decides: the rules validation applies, the item's
    # builder, and whether each batch is a sync of its own (one call per batch writes it).
    generation: str
    ctx: CompanyContext
    one_sync_per_batch: bool
    accounts: dict[Any, LedgerAccount]
    tax_rates: dict[Any, TaxRate]
    tracking: dict[Any, TrackingCategory]
    claimed: int = 0
    sent_back: int = 0
    # Refused by this claim yet still approved (the chart changed back since the claim read
    # it): never read again by this claim, so every slice makes progress.
    passed_over: set[Any] = field(default_factory=set)
    # Whether the company's push request was ended by this claim's first slice.
    request_ended: bool = False
    # What every sync of this push carries (`Sync.push_id`): a claim resumed after a crash
    # takes the one of the sync it continues.
    push_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # Slices claimed side by side share the plan: its counts and set change under this lock.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def speak(self, generation: str) -> None:
        """Plan for `generation`: the company was switched since the claim read it."""
        self.company.expenses_api = generation
        self.generation = generation
        self.ctx = company_context(company=self.company)
        self.one_sync_per_batch = one_sync_per_batch(self.company)

    def count(self, *, claimed: int = 0, sent_back: int = 0) -> None:
        with self.lock:
            self.claimed += claimed
            self.sent_back += sent_back

    def pass_over(self, expense_id: Any) -> None:
        with self.lock:
            self.passed_over.add(expense_id)

    def passed_over_now(self) -> list[Any]:
        with self.lock:
            return list(self.passed_over)


@dataclass
class _Slice:
    """What one committed slice of a claim did."""

    sync: Sync | None
    batches: list[PushBatch] = field(default_factory=list)
    done: bool = False


# The first slice is small, so the first datasets are on the wire while the rest is claimed.
FIRST_CLAIM_SLICE = 200

# Called with each committed slice's batches while a claim goes on (the lanes post them).
ClaimedBatches = Callable[[list[PushBatch]], None]


def company_push_claim(
    *, company: Company, on_batches: ClaimedBatches | None = None, claimers: int = 1
) -> Claim:
    """Claim the company's approved, valid expenses into a push's batches, a slice at a time.

    Each slice is a transaction of its own under the company row lock: the valid expenses it
    moves to pushing are written, with their Codat JSON, into whole batches of 50 in the same
    commit, and `on_batches` gets those batches as soon as it is committed (to post them while
    the next slice is claimed). What does not fill a whole batch stays approved and is read
    again by the next slice; the last slice writes what is left. The sync is marked as
    claiming until the last slice commits, and is never initiated before that.

    A crash between slices leaves a sync still claiming: the next claim (the sweeper resumes
    quiet pushes) continues it. Two workers at once take turns slice by slice under the lock,
    and an expense moves out of approved once only, so none is ever claimed twice. A push of
    the company already fully claimed but not yet initiated is returned as it is.

    With `claimers` above one (PostgreSQL: each thread has a connection of its own), once the
    first slice has made the sync, that many threads claim slices side by side
    (`_claim_side_by_side`); the last slices, which end the claim, are claimed alone.
    """
    blockers = push_blockers(company=company)
    if blockers:
        push_request_end(company)
        raise PushRefused(blockers[0])
    plan = _Plan(
        company=company,
        generation=company.expenses_api,
        ctx=company_context(company=company),
        one_sync_per_batch=one_sync_per_batch(company),
        # The company's chart is read once, not once per line: every line of a push shares it.
        accounts={a.pk: a for a in LedgerAccount.objects.filter(company=company)},
        tax_rates={t.pk: t for t in TaxRate.objects.filter(company=company)},
        tracking={t.pk: t for t in TrackingCategory.objects.filter(company=company)},
    )
    size = _slice_size(FIRST_CLAIM_SLICE)
    # Slices side by side add batches to the one sync a claim makes first (known once the
    # first slice has read the generation under the lock).
    side_by_side = claimers > 1
    while True:
        step = claim_slice(plan, size)
        if step.batches and on_batches is not None:
            on_batches(step.batches)
        if step.done:
            waiting = list(
                Sync.objects.filter(
                    company=company, state=SyncState.INITIATING, claiming=False
                ).order_by("pk")
            )
            first = step.sync if step.sync is not None or not waiting else waiting[0]
            return Claim(sync=first, claimed=plan.claimed, sent_back=plan.sent_back, syncs=waiting)
        if side_by_side and not plan.one_sync_per_batch:
            side_by_side = False
            _claim_side_by_side(plan, claimers, on_batches)
        size = _slice_size(CLAIM_CHUNK)


def _claim_side_by_side(plan: _Plan, claimers: int, on_batches: ClaimedBatches | None) -> None:
    """Claim slices from `claimers` threads at once until each finds no full slice left.

    Each slice takes the company row lock shared (`FOR SHARE`): the threads' slices overlap,
    and skip each other's locked expenses, while a slice that may end the claim (or make a
    sync) takes it alone and waits for every shared one. So none of these ever ends the claim
    or makes a sync; the caller's next slice, alone, ends it. A thread that fails stops the
    others before their next slice, and its failure is raised once all have stopped: what was
    committed stays, the failed slice left nothing behind, and the claim is resumable."""
    # `on_batches` is called by one claimer at a time, as by a claim alone: it need not be
    # safe to call from several threads (the lanes' recorder writes on the caller's connection).
    delivered = threading.Lock()

    def claim_until_done(_: None) -> None:
        while not claiming.stopped:
            step = claim_slice(plan, _slice_size(CLAIM_CHUNK), shared=True)
            if step.batches and on_batches is not None:
                with delivered:
                    on_batches(step.batches)
            if step.done:
                return

    with SideBySide(
        claim_until_done, threads=claimers, name="push-claim", own_connection=True
    ) as claiming:
        for _ in range(claimers):
            claiming.put(None)


def _slice_size(wanted: int) -> int:
    """`wanted` (at most `CLAIM_CHUNK`) rounded up to whole batches: a slice fills one at least."""
    wanted = max(1, min(wanted, CLAIM_CHUNK))
    return -(-wanted // MAX_BATCH_SIZE) * MAX_BATCH_SIZE


@transaction.atomic
def claim_slice(plan: _Plan, size: int, *, shared: bool = False) -> _Slice:
    """Claim the next `size` approved expenses in issue-date order, in one transaction: the
    valid ones move to pushing with their Codat JSON planned into whole batches; the invalid
    ones go back to coding with the reason. An expense written through an endpoint of its own
    (a transfer, in the newer generation) is a batch, and a sync, of its own.

    `shared`: one of several slices side by side, under the company lock taken shared. It
    only adds whole batches to the sync claiming, and is done (for its thread) when it finds
    fewer than `size` expenses; it never makes the sync or ends the claim."""
    company = plan.company
    generation = company_claim_lock(company, shared=shared)
    if generation is not None and generation != plan.generation:
        plan.speak(generation)
    if not shared and not plan.request_ended:
        # Ended in the commit that makes the sync: a reader sees the request or the sync.
        push_request_end(company)
        plan.request_ended = True
    sync = Sync.objects.filter(company=company, state=SyncState.INITIATING).first()
    if sync is not None and not sync.claiming:
        return _Slice(sync=sync, done=True)
    if sync is not None and sync.push_id is not None:
        plan.push_id = sync.push_id
    if shared and sync is None:
        return _Slice(sync=None, done=True)
    approved = Expense.objects.select_for_update(skip_locked=True).filter(
        company=company, status=ExpenseStatus.APPROVED
    )
    passed_over = plan.passed_over_now()
    if passed_over:
        approved = approved.exclude(pk__in=passed_over)
    ids = list(approved.order_by("issue_date", "id").values_list("pk", flat=True)[:size])
    last = len(ids) < size
    items: list[tuple[Any, dict[str, Any]]] = []
    # Written through an endpoint of their own (the newer generation's transfers): each is a
    # batch, and a sync, of its own, planned in this slice whatever else fills a batch.
    alone: list[tuple[Any, dict[str, Any], str]] = []
    for expense, lines in claim_reads(plan, ids):
        try:
            item = expense_item(expense=expense, lines=lines, ctx=plan.ctx)
        except ExpenseRefused:
            # The chart changed since approval: back to coding, with the reason. Never pushed.
            whole = Expense.objects.select_related("supplier_override").get(pk=expense.pk)
            expense_refresh_readiness(expense=whole, ctx=plan.ctx)
            if whole.status == ExpenseStatus.APPROVED:
                plan.pass_over(expense.pk)
            else:
                plan.count(sent_back=1)
            continue
        endpoint = plan.ctx.rules.endpoint_for(expense.type)
        if endpoint == EXPENSE_TRANSACTIONS:
            items.append((expense.pk, item))
        else:
            alone.append((expense.pk, item, endpoint))
    if shared or not last:
        # The rest stays approved: the next slice reads it first and fills its batch.
        items = items[: len(items) - len(items) % MAX_BATCH_SIZE]
    step = _Slice(sync=sync, done=last)
    if items or alone:
        moved = set(
            expenses_bulk_transition(
                expense_ids=[pk for pk, _ in items] + [pk for pk, _, _ in alone],
                current=ExpenseStatus.APPROVED,
                to=ExpenseStatus.PUSHING,
                message="Claimed for a push",
            )
        )
        planned = [(pk, item) for pk, item in items if pk in moved]
        plan.count(claimed=len(moved))
        for pk, item, endpoint in alone:
            if pk in moved:
                own = _sync_create(company, plan.generation, plan.push_id)
                step.sync = step.sync or own
                step.batches += write_batches(
                    company, own, [(pk, item)], keyed=True, endpoint=endpoint
                )
        if planned:
            if plan.one_sync_per_batch:
                for start in range(0, len(planned), MAX_BATCH_SIZE):
                    own = _sync_create(company, plan.generation, plan.push_id)
                    step.sync = step.sync or own
                    step.batches += write_batches(
                        company, own, planned[start : start + MAX_BATCH_SIZE], keyed=True
                    )
            else:
                if step.sync is None:
                    step.sync = _sync_create(company, plan.generation, plan.push_id)
                step.batches = write_batches(company, step.sync, planned)
    if last and not shared:
        # The claim is complete: every sync it made may be started.
        Sync.objects.filter(company=company, claiming=True).update(claiming=False)
        if step.sync is not None:
            step.sync.claiming = False
    return step


def company_claim_lock(company: Company, *, shared: bool = False) -> str | None:
    """The company row lock a claim slice holds to its commit: alone, or shared with the
    other slices side by side (which a slice alone waits for, and they for it). Alone, the
    generation the company speaks, read under the lock: the cut-over (`syncs.cutover`) takes
    the same lock alone to check that nothing is in flight and switch, so no slice falls
    between its check and its switch."""
    if not shared:
        locked = Company.objects.select_for_update().filter(pk=company.pk)
        return locked.values_list("expenses_api", flat=True).first()
    company_share_lock(company.pk)
    return None


# What validation and the payload read of an expense, and nothing else: a slice reads a
# thousand. An expense sent back to coding is read again whole.
_CLAIM_READS = (
    "id",
    "company_id",
    "status",
    "type",
    "issue_date",
    "currency",
    "currency_rate",
    "currency_rate_to_check",
    "amount",
    "merchant_name",
    "notes",
    "supplier_override",
)


def claim_reads(plan: _Plan, ids: list[Any]) -> list[tuple[Expense, list[ExpenseLine]]]:
    """The expenses with what validation and the payload read, in issue-date order: three
    queries a slice however many lines it holds (expenses, lines, tracking links), the company
    and its chart taken from what the claim already holds."""
    expenses = list(
        Expense.objects.filter(pk__any_of=ids)
        .select_related("supplier_override")
        .only(*_CLAIM_READS)
        .order_by("issue_date", "id")
    )
    lines_of: dict[Any, list[ExpenseLine]] = {}
    rows = ExpenseLine.objects.filter(expense_id__any_of=ids).order_by("expense_id", "position")
    for line in rows:
        lines_of.setdefault(line.expense_id, []).append(line)
    links = ExpenseLine.tracking_categories.through.objects.filter(
        expenseline__expense_id__any_of=ids
    )
    tracked: dict[Any, list[TrackingCategory]] = {}
    for line_id, category_id in links.values_list("expenseline_id", "trackingcategory_id"):
        category = plan.tracking.get(category_id) or TrackingCategory.objects.get(pk=category_id)
        tracked.setdefault(line_id, []).append(category)
    # The related objects go straight into each instance's cache: the descriptors' checks, on
    # ids that are already the same, cost a fifth of the reads.
    company, account, tax_rate = (
        cast("ForeignKey[Any, Any]", model._meta.get_field(name))
        for model, name in (
            (Expense, "company"),
            (ExpenseLine, "account"),
            (ExpenseLine, "tax_rate"),
        )
    )
    read = []
    for expense in expenses:
        company.set_cached_value(expense, plan.company)
        lines = lines_of.get(expense.pk, [])
        for line in lines:
            # Anything not in the company's chart is left to load itself, as it would.
            if line.account_id in plan.accounts:
                account.set_cached_value(line, plan.accounts[line.account_id])
            if line.tax_rate_id in plan.tax_rates:
                tax_rate.set_cached_value(line, plan.tax_rates[line.tax_rate_id])
            categories = sorted(tracked.get(line.pk, []), key=lambda c: (c.name, c.pk))
            keep_related(line, "tracking_categories", categories)
        read.append((expense, lines))
    return read


def write_batches(
    company: Company,
    sync: Sync,
    planned: list[tuple[Any, dict[str, Any]]],
    *,
    keyed: bool = False,
    endpoint: str = EXPENSE_TRANSACTIONS,
) -> list[PushBatch]:
    """The planned items written into batches of `sync`, in its generation, to be sent to
    `endpoint`. `keyed`: sending a batch writes to the ledger, so each gets its
    `Idempotency-Key` now, before any call."""
    chunks = [
        planned[start : start + MAX_BATCH_SIZE] for start in range(0, len(planned), MAX_BATCH_SIZE)
    ]
    # A row per statement: each batch's JSON goes as one parameter, never quoted into an
    # array literal in Python.
    batches = PushBatch.objects.bulk_create(
        (
            PushBatch(
                company=company,
                sync=sync,
                payload=[item for _, item in chunk],
                expenses_api=sync.expenses_api,
                idempotency_key=uuid.uuid4() if keyed else None,
                endpoint=endpoint,
            )
            for chunk in chunks
        ),
        batch_size=1,
    )
    pairs = [
        (batch.pk, pk) for batch, chunk in zip(batches, chunks, strict=True) for pk, _ in chunk
    ]
    if connection.vendor == "postgresql":
        batch_items_insert(pairs)
        return batches
    PushBatchItem.objects.bulk_create(
        (PushBatchItem(batch_id=batch_id, expense_id=pk) for batch_id, pk in pairs),
        batch_size=1000,
    )
    return batches


def _column(model: type[Model], name: str) -> str:
    return cast("Field[Any, Any]", model._meta.get_field(name)).column


def _sync_create(company: Company, generation: str, push_id: uuid.UUID) -> Sync:
    config = CompanyConfiguration.objects.select_related(
        "bank_account", "supplier", "customer"
    ).get(company=company)
    return Sync.objects.create(
        company=company,
        kind=SyncKind.PUSH,
        expenses_api=generation,
        push_id=push_id,
        claiming=True,
        configuration_snapshot={
            "bank_account": _snapshot(config.bank_account),
            "supplier": _snapshot(config.supplier),
            "customer": _snapshot(config.customer),
        },
    )


def _snapshot(record: Any) -> dict[str, str] | None:
    return {"id": record.codat_id, "name": record.name} if record is not None else None
