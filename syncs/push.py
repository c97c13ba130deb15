"""Pushing approved expenses to Codat — never a duplicate, never a loss.

Three steps, each resumable after a crash at any line:

1. `company_push_claim` claims the approved, valid expenses and writes the local plan — one
   `Sync` (state *initiating*, marked as claiming) and `PushBatch` rows of at most 50, each
   with its items' Codat JSON — a slice at a time, each slice one transaction, before any of
   its HTTP. A crash inside a slice leaves nothing of it behind; a claim cut short between
   slices is continued into the same sync by the next claim.
2. `company_push` posts each committed slice's batches while the next slice is claimed, and
   `sync_send` posts whatever is still pending (a turn's datasets side by side, one lane per
   call slot held); each records the dataset id. A batch posted but not recorded is
   posted again on retry: an orphan dataset writes nothing. The items are not checked again:
   an account archived since the claim is Codat's to refuse, and the expense then fails with
   Codat's words like any refusal.
3. Once the claim is complete and every batch posted, `sync_send` initiates one sync for all
   the datasets. The moment is committed before the call; if a crash loses the answer, the
   retry looks for a sync Codat started after that moment that we do not know, and adopts it
   rather than start a second one.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Field, ForeignKey, Model, Prefetch, Value, When
from django.utils import timezone

from codat import (
    CodatClient,
    CodatError,
    CodatRateLimitedError,
    CodatUnavailableError,
    CodatUnprocessableError,
    CodatValidationError,
    Exchange,
    ExpenseTransaction,
    V1ExpensesApi,
)
from companies.models import (
    Company,
    CompanyConfiguration,
    LedgerAccount,
    TaxRate,
    TrackingCategory,
)
from companies.selectors import company_push_blockers
from expenses.ledger import expense_to_transaction
from expenses.models import Expense, ExpenseLine, ExpenseStatus
from expenses.services import ExpenseRefused, expense_refresh_readiness, expenses_bulk_transition
from expenses.validation import company_context, expense_problems
from gateway.call_slots import CallSlotsBusy, codat_call_slot, codat_spare_call_slots
from gateway.exchanges import codat_client, codat_exchanges_observe
from gateway.exchanges import codat_threads_allowed as codat_lanes_allowed
from sfe_portal.db import id_array
from sfe_portal.prefetch import keep_related
from syncs.models import (
    MAX_BATCH_SIZE,
    BatchState,
    PushBatch,
    PushBatchItem,
    Sync,
    SyncKind,
    SyncState,
)

logger = logging.getLogger(__name__)

# Codat's clock and ours differ; a sync started this long before our request is still ours.
ADOPTION_MARGIN = timedelta(seconds=30)
FIRST_POLL_AFTER = timedelta(seconds=2)
# Longer than any initiate-sync call can take (the client's timeouts and retries included).
INITIATE_IN_FLIGHT = timedelta(minutes=2)
# Codat's answers that it turned a call away before doing anything: rate limited, or offline
# for maintenance (API-NOTES §6.2). Other failures may come after Codat started the sync.
TURNED_AWAY = frozenset({429, 503})


# Expenses read, checked and planned per slice (one transaction each) while claiming a push.
CLAIM_CHUNK = 1000


class InitiationInFlight(Exception):
    """Another worker asked Codat to start this sync moments ago; try again shortly."""


class PushRefused(Exception):
    """The company cannot push now; the message says why and how to fix it."""


def push_blockers(*, company: Company) -> list[str]:
    """What stops the company from pushing, in plain words with the fix."""
    return company_push_blockers(company=company)


def _expenses_with_lines(ids: Sequence[Any]) -> list[Expense]:
    lines = ExpenseLine.objects.select_related("account", "tax_rate").order_by("position")
    return list(
        Expense.objects.filter(pk__in=list(ids))
        .select_related("supplier_override", "company")
        .prefetch_related(Prefetch("lines", queryset=lines.prefetch_related("tracking_categories")))
        .order_by("issue_date", "id")
    )


@dataclass
class Claim:
    sync: Sync | None
    claimed: int = 0
    sent_back: int = 0


@dataclass
class _Plan:
    """What a claim holds across its slices: the company's chart, read once."""

    company: Company
    ctx: Any
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
    # Slices claimed side by side share the plan: its counts and set change under this lock.
    lock: threading.Lock = field(default_factory=threading.Lock)

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
        _push_request_end(company)
        raise PushRefused(blockers[0])
    plan = _Plan(
        company=company,
        ctx=company_context(company=company),
        # The company's chart is read once, not once per line: every line of a push shares it.
        accounts={a.pk: a for a in LedgerAccount.objects.filter(company=company)},
        tax_rates={t.pk: t for t in TaxRate.objects.filter(company=company)},
        tracking={t.pk: t for t in TrackingCategory.objects.filter(company=company)},
    )
    size = _slice_size(FIRST_CLAIM_SLICE)
    side_by_side = claimers > 1
    while True:
        step = _claim_slice(plan, size)
        if step.batches and on_batches is not None:
            on_batches(step.batches)
        if step.done:
            return Claim(sync=step.sync, claimed=plan.claimed, sent_back=plan.sent_back)
        if side_by_side:
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
    stop = threading.Event()

    def claimer() -> None:
        try:
            while not stop.is_set():
                step = _claim_slice(plan, _slice_size(CLAIM_CHUNK), shared=True)
                if step.batches and on_batches is not None:
                    with delivered:
                        on_batches(step.batches)
                if step.done:
                    return
        except BaseException:
            stop.set()
            raise
        finally:
            connection.close()  # this thread's own

    with ThreadPoolExecutor(max_workers=claimers, thread_name_prefix="push-claim") as pool:
        # Each claimer runs in a copy of the caller's context, so its log lines keep the task's.
        futures = [pool.submit(contextvars.copy_context().run, claimer) for _ in range(claimers)]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error


def _slice_size(wanted: int) -> int:
    """`wanted` (at most `CLAIM_CHUNK`) rounded up to whole batches: a slice fills one at least."""
    wanted = max(1, min(wanted, CLAIM_CHUNK))
    return -(-wanted // MAX_BATCH_SIZE) * MAX_BATCH_SIZE


@transaction.atomic
def _claim_slice(plan: _Plan, size: int, *, shared: bool = False) -> _Slice:
    """Claim the next `size` approved expenses in issue-date order, in one transaction: the
    valid ones move to pushing with their Codat JSON planned into whole batches; the invalid
    ones go back to coding with the reason.

    `shared`: one of several slices side by side, under the company lock taken shared. It
    only adds whole batches to the sync claiming, and is done (for its thread) when it finds
    fewer than `size` expenses; it never makes the sync or ends the claim."""
    company = plan.company
    _company_lock(company, shared=shared)
    if not shared and not plan.request_ended:
        # Ended in the commit that makes the sync: a reader sees the request or the sync.
        _push_request_end(company)
        plan.request_ended = True
    sync = Sync.objects.filter(company=company, state=SyncState.INITIATING).first()
    if sync is not None and not sync.claiming:
        return _Slice(sync=sync, done=True)
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
    for expense, lines in _claim_reads(plan, ids):
        try:
            transaction_ = expense_to_transaction(expense=expense, lines=lines, ctx=plan.ctx)
        except ExpenseRefused:
            # The chart changed since approval: back to coding, with the reason. Never pushed.
            whole = Expense.objects.select_related("supplier_override").get(pk=expense.pk)
            expense_refresh_readiness(expense=whole, ctx=plan.ctx)
            if whole.status == ExpenseStatus.APPROVED:
                plan.pass_over(expense.pk)
            else:
                plan.count(sent_back=1)
            continue
        items.append((expense.pk, transaction_.to_api()))
    if shared or not last:
        # The rest stays approved: the next slice reads it first and fills its batch.
        items = items[: len(items) - len(items) % MAX_BATCH_SIZE]
    step = _Slice(sync=sync, done=last)
    if items:
        moved = set(
            expenses_bulk_transition(
                expense_ids=[pk for pk, _ in items],
                current=ExpenseStatus.APPROVED,
                to=ExpenseStatus.PUSHING,
                message="Claimed for a push",
            )
        )
        planned = [(pk, item) for pk, item in items if pk in moved]
        plan.count(claimed=len(planned))
        if planned:
            if step.sync is None:
                step.sync = _sync_create(company)
            step.batches = _write_batches(company, step.sync, planned)
    if last and not shared and step.sync is not None and step.sync.claiming:
        Sync.objects.filter(pk=step.sync.pk).update(claiming=False)
        step.sync.claiming = False
    return step


def _company_lock(company: Company, *, shared: bool) -> None:
    """The company row lock a claim slice holds to its commit: alone, or shared with the
    other slices side by side (which a slice alone waits for, and they for it)."""
    if not shared:
        Company.objects.select_for_update().filter(pk=company.pk).first()
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {qn(Company._meta.db_table)} "  # noqa: S608
            f"WHERE {qn(_column(Company, 'id'))} = %s FOR SHARE",
            [company.pk],
        )


# What validation and the payload read of an expense: building the instances was most of a
# claim's reads, and half of the columns were never looked at. An expense sent back to coding
# is read again whole.
_CLAIM_READS = (
    "id",
    "company_id",
    "status",
    "type",
    "issue_date",
    "currency",
    "currency_rate",
    "amount",
    "merchant_name",
    "notes",
    "supplier_override",
)


def _claim_reads(plan: _Plan, ids: list[Any]) -> list[tuple[Expense, list[ExpenseLine]]]:
    """The expenses with what validation and the payload read, in issue-date order: three
    queries a slice (expenses, lines, tracking links), the company and its chart taken from
    what the claim already holds. Prefetching did the same in Python with a queryset per
    expense and per line, which was most of the time a claim took."""
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


def _write_batches(
    company: Company, sync: Sync, planned: list[tuple[Any, dict[str, Any]]]
) -> list[PushBatch]:
    chunks = [
        planned[start : start + MAX_BATCH_SIZE] for start in range(0, len(planned), MAX_BATCH_SIZE)
    ]
    # A row per statement: PostgreSQL's bulk insert sends several rows as arrays, and quoting
    # each batch's JSON into an array literal (in Python) cost far more than the round trips.
    batches = PushBatch.objects.bulk_create(
        (
            PushBatch(company=company, sync=sync, payload=[item for _, item in chunk])
            for chunk in chunks
        ),
        batch_size=1,
    )
    pairs = [
        (batch.pk, pk) for batch, chunk in zip(batches, chunks, strict=True) for pk, _ in chunk
    ]
    if connection.vendor == "postgresql":
        # Two arrays in one statement: an instance per item cost more than writing them.
        qn = connection.ops.quote_name
        sql = (
            f"INSERT INTO {qn(PushBatchItem._meta.db_table)} "  # noqa: S608
            f"({qn(_column(PushBatchItem, 'batch'))}, {qn(_column(PushBatchItem, 'expense'))}) "
            "SELECT * FROM UNNEST(CAST(%s AS uuid[]), CAST(%s AS uuid[]))"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [id_array(b for b, _ in pairs), id_array(e for _, e in pairs)])
        return batches
    PushBatchItem.objects.bulk_create(
        (PushBatchItem(batch_id=batch_id, expense_id=pk) for batch_id, pk in pairs),
        batch_size=1000,
    )
    return batches


def _column(model: type[Model], name: str) -> str:
    return cast("Field[Any, Any]", model._meta.get_field(name)).column


def _sync_create(company: Company) -> Sync:
    config = CompanyConfiguration.objects.select_related(
        "bank_account", "supplier", "customer"
    ).get(company=company)
    return Sync.objects.create(
        company=company,
        kind=SyncKind.PUSH,
        claiming=True,
        configuration_snapshot={
            "bank_account": _snapshot(config.bank_account),
            "supplier": _snapshot(config.supplier),
            "customer": _snapshot(config.customer),
        },
    )


def _snapshot(record: Any) -> dict[str, str] | None:
    return {"id": record.codat_id, "name": record.name} if record is not None else None


def sync_send(*, sync: Sync, max_batches: int | None = None, lanes: int = 1) -> Sync:
    """Post the sync's pending datasets, then initiate (or adopt) the sync. Safe to repeat.

    With `max_batches`, at most that many datasets are posted and the sync stays initiating
    while some are pending: the task sends the rest in a later run, so one company's large
    push takes turns with other companies' work instead of holding a worker.

    With `lanes` above one (the caller holds that many of the company's call slots), the
    datasets are shared out between as many threads, each posting its own in turn: every batch
    is posted by one lane only, and recorded only while still pending, as in a single lane.

    Transient Codat failures (5xx, 429, timeouts) propagate so the task retries later; refusals
    are recorded on the expenses with Codat's words.
    """
    company = sync.company
    client = codat_client(company_id=company.pk)
    api = V1ExpensesApi(client)
    ctx = company_context(company=company)
    pending = sync.batches.filter(state=BatchState.PENDING).order_by("created_at")
    if lanes > 1 and codat_lanes_allowed():
        _post_in_lanes(sync, list(pending[:max_batches] if max_batches else pending), lanes, ctx)
    else:
        for batch in pending[:max_batches] if max_batches else pending:
            _post_batch(sync, api, batch, ctx)
    if sync.batches.filter(state=BatchState.PENDING).exists():
        return sync  # more to post on the next turn
    sync.refresh_from_db(fields=["claiming"])
    if sync.claiming:
        return sync  # the claim goes on (or is resumed): initiated once it is complete
    dataset_ids = [
        str(d)
        for d in sync.batches.filter(state=BatchState.POSTED).values_list("dataset_id", flat=True)
    ]
    if not dataset_ids:
        return _close_empty(sync)
    return _initiate_or_adopt(sync, client, api, dataset_ids)


@contextmanager
def _turn_lanes(company_id: int, holder: str) -> Iterator[int]:
    """Hold one of the company's call slots and as many spare ones as a turn's
    `PUSH_BATCHES_PER_TURN` datasets can use side by side (one always left free); yields how
    many lanes that makes. `CallSlotsBusy` when every slot is taken."""
    with (
        codat_call_slot(company_id, holder=holder),
        codat_spare_call_slots(
            company_id, holder=holder, up_to=settings.PUSH_BATCHES_PER_TURN - 1
        ) as spare,
    ):
        yield 1 + spare


def sync_send_turn(*, sync: Sync, holder: str) -> Sync:
    """One sending turn of a push: up to `PUSH_BATCHES_PER_TURN` datasets posted side by side,
    one lane per call slot held, then the initiate once all are posted. Raises `CallSlotsBusy`
    when every slot is taken; transient Codat failures propagate."""
    with _turn_lanes(sync.company_id, holder) as lanes:
        return sync_send(sync=sync, max_batches=settings.PUSH_BATCHES_PER_TURN, lanes=lanes)


def _post_batch(sync: Sync, api: V1ExpensesApi, batch: PushBatch, ctx: Any) -> None:
    items = _batch_items(batch, ctx)
    if not items:
        _abandon(batch, reason="")
        return
    try:
        dataset_id = api.create_dataset(str(sync.company.codat_company_id), items)
    except CodatValidationError as refused:
        _fail_batch(batch, refused)
        return
    _record_all_posted([(batch, dataset_id, items)])


def _record_all_posted(posted: list[tuple[PushBatch, str, list[Any]]]) -> None:
    """Each batch posted, with its dataset id: one statement for them all."""
    if not posted:
        return
    _record_datasets([(batch, dataset_id) for batch, dataset_id, _ in posted])
    for batch, dataset_id, items in posted:
        logger.info(
            "Dataset %s posted for push %s with %s expenses",
            dataset_id,
            batch.sync_id,
            len(items),
            extra={
                "company_id": batch.company_id,
                "sync_id": batch.sync_id,
                "expense_ids": [item["id"] for item in items],
            },
        )


def _post_in_lanes(sync: Sync, batches: list[PushBatch], lanes: int, ctx: Any) -> None:
    """Post `batches` from up to `lanes` threads that only talk HTTP; this thread reads and
    writes the database before and after. Every batch is in one lane's share only. A lane that
    fails stops the others before their next dataset; what was posted is recorded all the same
    (so a retry posts only the rest), then the first failure is raised."""
    company = sync.company
    work: list[tuple[PushBatch, list[dict[str, Any]]]] = []
    for batch in batches:
        items = _batch_items(batch, ctx)
        if items:
            work.append((batch, items))
        else:
            _abandon(batch, reason="")
    if not work:
        return
    lanes = min(lanes, len(work))
    exchanges: list[Exchange] = []
    answers: dict[Any, str | CodatValidationError] = {}
    stop = threading.Event()

    def lane(share: list[tuple[PushBatch, list[dict[str, Any]]]]) -> None:
        client = codat_client(company_id=company.pk, keep_exchanges=exchanges)
        try:
            api = V1ExpensesApi(client)
            for batch, items in share:
                if stop.is_set():
                    return
                try:
                    answers[batch.pk] = api.create_dataset(str(company.codat_company_id), items)
                except CodatValidationError as refused:
                    answers[batch.pk] = refused
        except BaseException:
            stop.set()
            raise
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="push-lane") as pool:
        # Each lane runs in a copy of the caller's context, so its log lines keep the task's.
        futures = [
            pool.submit(contextvars.copy_context().run, lane, work[start::lanes])
            for start in range(lanes)
        ]
    codat_exchanges_observe(company_id=company.pk, exchanges=exchanges)
    posted = []
    for batch, items in work:
        answer = answers.get(batch.pk)
        if isinstance(answer, CodatValidationError):
            _fail_batch(batch, answer)
        elif answer is not None:
            posted.append((batch, answer, items))
    _record_all_posted(posted)
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error


def company_push(*, company: Company, lanes: int = 1) -> Claim:
    """Claim the company's approved expenses (`company_push_claim`) and post each committed
    slice's datasets from up to `lanes` threads (the caller holds that many of the company's
    call slots) while this thread claims the next slice: the first datasets are on the wire
    moments after the push starts instead of after the whole claim.

    The lanes only talk HTTP; this thread records their answers between slices. A lane that
    fails stops posting (the failure is logged): what it did not post stays pending for
    `sync_send`, which also initiates the sync once every batch is posted.
    """
    if lanes < 2 or not codat_lanes_allowed():
        # With one call slot the datasets go out one by one from the sending turns, each
        # exchange recorded the moment it ends (a lane's are recorded between slices).
        return company_push_claim(company=company)
    poster = _LanePoster(company, lanes)
    # Slices side by side need a connection per thread and row locks that can be shared.
    claimers = settings.PUSH_CLAIMERS if connection.vendor == "postgresql" else 1
    try:
        claim = company_push_claim(company=company, on_batches=poster.post, claimers=claimers)
    finally:
        failure = poster.close()
    if failure is not None:
        logger.warning(
            "Posting datasets while claiming the push of company %s stopped: %s; the rest is "
            "posted by the next turn",
            company.pk,
            failure,
        )
    return claim


def company_push_turn(*, company: Company, holder: str) -> Claim:
    """The first turn of a push: claim the company's approved expenses, posting the claimed
    datasets meanwhile on the company's free call slots (`company_push`). With every slot
    taken, only claim: the sending turns (`sync_send_turn`) post them."""
    try:
        with _turn_lanes(company.pk, holder) as lanes:
            return company_push(company=company, lanes=lanes)
    except CallSlotsBusy:
        return company_push_claim(company=company)


class _LanePoster:
    """Datasets posted by HTTP-only threads while the caller's thread works the database.

    Each batch is queued once and taken by one lane only. The answers (and the exchanges, for
    support) are recorded by the caller's thread: as more batches are queued, and on `close`.
    """

    def __init__(self, company: Company, lanes: int) -> None:
        self.company = company
        self.todo: queue.SimpleQueue[tuple[PushBatch, list[dict[str, Any]]] | None] = (
            queue.SimpleQueue()
        )
        self.answers: queue.SimpleQueue[
            tuple[PushBatch, list[dict[str, Any]], str | CodatValidationError]
        ] = queue.SimpleQueue()
        self.exchanges: list[Exchange] = []
        self.observed = 0
        self.failures: list[BaseException] = []
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(
                # Each lane runs in a copy of the caller's context, so its log lines keep the
                # task's.
                target=contextvars.copy_context().run,
                args=(self._lane,),
                name=f"push-lane-{n}",
                daemon=True,
            )
            for n in range(lanes)
        ]
        for thread in self.threads:
            thread.start()

    def post(self, batches: list[PushBatch]) -> None:
        # Freshly claimed: every item is pushing, exactly as planned.
        for batch in batches:
            if batch.payload:
                self.todo.put((batch, batch.payload))
        self._record()

    def close(self) -> BaseException | None:
        """Wait for the lanes to post what was queued, record it all; the first failure."""
        for _ in self.threads:
            self.todo.put(None)
        for thread in self.threads:
            thread.join()
        self._record()
        return self.failures[0] if self.failures else None

    def _lane(self) -> None:
        client = codat_client(company_id=self.company.pk, keep_exchanges=self.exchanges)
        try:
            api = V1ExpensesApi(client)
            codat_company = str(self.company.codat_company_id)
            while (work := self.todo.get()) is not None:
                if self.stop.is_set():
                    continue  # left pending for the next turn
                batch, items = work
                try:
                    answer: str | CodatValidationError = api.create_dataset(codat_company, items)
                except CodatValidationError as refused:
                    answer = refused
                self.answers.put((batch, items, answer))
        except BaseException as failure:  # handed to the caller by `close`
            self.failures.append(failure)
            self.stop.set()
        finally:
            client.close()

    def _record(self) -> None:
        with transaction.atomic():
            # Lanes only ever append: what is past `observed` is new.
            seen, self.observed = self.observed, len(self.exchanges)
            codat_exchanges_observe(
                company_id=self.company.pk, exchanges=self.exchanges[seen : self.observed]
            )
            posted = []
            while True:
                try:
                    batch, items, answer = self.answers.get_nowait()
                except queue.Empty:
                    break
                if isinstance(answer, CodatValidationError):
                    _fail_batch(batch, answer)
                else:
                    posted.append((batch, answer, items))
            _record_all_posted(posted)


def _batch_items(batch: PushBatch, ctx: Any) -> list[dict[str, Any]]:
    """The batch's dataset items as Codat JSON, without the expenses no longer pushing."""
    if batch.payload is None:
        return [t.to_api() for t in _batch_transactions(batch, ctx)]
    gone = {
        str(pk)
        for pk in Expense.objects.filter(batch_items__batch=batch)
        .exclude(status=ExpenseStatus.PUSHING)
        .values_list("pk", flat=True)
    }
    return [item for item in batch.payload if item["id"] not in gone]


def _batch_transactions(batch: PushBatch, ctx: Any) -> list[ExpenseTransaction]:
    """A batch planned before its items were kept: built from its expenses now."""
    ids = list(batch.items.values_list("expense_id", flat=True))
    transactions = []
    for expense in _expenses_with_lines(ids):
        if expense.status != ExpenseStatus.PUSHING:
            continue
        try:
            transactions.append(
                expense_to_transaction(expense=expense, lines=list(expense.lines.all()), ctx=ctx)
            )
        except ExpenseRefused as refused:
            # Master data changed between the claim and the send.
            expenses_bulk_transition(
                expense_ids=[expense.pk],
                current=ExpenseStatus.PUSHING,
                to=ExpenseStatus.FAILED,
                message=str(refused)[:1000],
                extra={"failure_message": str(refused)},
            )
            PushBatchItem.objects.filter(batch=batch, expense=expense).delete()
    return transactions


def _record_datasets(posted: list[tuple[PushBatch, str]]) -> None:
    # One statement, no transaction of its own: a savepoint and an update each, when the lanes'
    # answers are recorded together, was most of the time it took.
    dataset_ids = [When(pk=batch.pk, then=Value(dataset_id)) for batch, dataset_id in posted]
    PushBatch.objects.filter(
        pk__in=[batch.pk for batch, _ in posted], state=BatchState.PENDING
    ).update(
        state=BatchState.POSTED,
        dataset_id=Case(*dataset_ids, output_field=PushBatch._meta.get_field("dataset_id")),
        posted_at=timezone.now(),
        attempts=F("attempts") + 1,
    )


@transaction.atomic
def _abandon(batch: PushBatch, *, reason: str) -> None:
    PushBatch.objects.filter(pk=batch.pk).update(state=BatchState.ABANDONED, last_error=reason)


@transaction.atomic
def _fail_batch(batch: PushBatch, refused: CodatError) -> None:
    details = "; ".join(f"{item.item_id}: {item.message}" for item in refused.validation_errors)
    reason = f"Codat refused the dataset: {refused.message}" + (f" ({details})" if details else "")
    _abandon(batch, reason=reason)
    expenses_bulk_transition(
        expense_ids=list(batch.items.values_list("expense_id", flat=True)),
        current=ExpenseStatus.PUSHING,
        to=ExpenseStatus.FAILED,
        message=reason[:1000],
        extra={"failure_message": reason},
    )


@transaction.atomic
def _close_empty(sync: Sync) -> Sync:
    Sync.objects.filter(pk=sync.pk, state=SyncState.INITIATING).update(
        state=SyncState.FAILED,
        completed_at=timezone.now(),
        error_message="Nothing was sent: every batch was refused.",
    )
    sync.refresh_from_db()
    return sync


def _initiate_or_adopt(
    sync: Sync, client: CodatClient, api: V1ExpensesApi, dataset_ids: list[str]
) -> Sync:
    """Start the sync once. The request time is claimed with a conditional update, so when two
    workers get here only one initiates; the other adopts what Codat started, or waits while
    the first one's call may still be in flight."""
    codat_company = str(sync.company.codat_company_id)
    now = timezone.now()
    claimed = Sync.objects.filter(
        pk=sync.pk,
        state=SyncState.INITIATING,
        claiming=False,
        initiate_requested_at__isnull=True,
    ).update(initiate_requested_at=now)
    if not claimed:
        sync.refresh_from_db()
        if (
            sync.state != SyncState.INITIATING
            or sync.claiming
            or sync.initiate_requested_at is None
        ):
            return sync
        adopted = _unknown_sync_since(sync, client, sync.initiate_requested_at - ADOPTION_MARGIN)
        if adopted is not None:
            logger.info("Adopted sync %s for push %s after a lost answer", adopted, sync.pk)
            return _record_started(sync, adopted)
        if now - sync.initiate_requested_at < INITIATE_IN_FLIGHT:
            raise InitiationInFlight(sync.pk)
        # The earlier request is long gone and Codat started nothing: initiate again.
        Sync.objects.filter(pk=sync.pk).update(initiate_requested_at=now)
    sync.initiate_requested_at = now
    try:
        codat_sync_id = api.initiate_sync(codat_company, dataset_ids)
    except CodatUnprocessableError as refused:
        return _refused_by_codat(sync, refused)
    except (CodatRateLimitedError, CodatUnavailableError) as failure:
        if failure.status in TURNED_AWAY:
            # No sync can have started: the next try initiates at once, instead of waiting
            # INITIATE_IN_FLIGHT for a sync to adopt.
            Sync.objects.filter(pk=sync.pk, initiate_requested_at=now).update(
                initiate_requested_at=None
            )
        raise
    return _record_started(sync, codat_sync_id)


def _unknown_sync_since(sync: Sync, client: CodatClient, since: Any) -> str | None:
    known = set(
        str(i)
        for i in Sync.objects.filter(company=sync.company, codat_sync_id__isnull=False).values_list(
            "codat_sync_id", flat=True
        )
    )
    candidates = [
        s
        for s in client.list_syncs(str(sync.company.codat_company_id))
        if s.sync_id and s.sync_id not in known and s.sync_utc is not None and s.sync_utc >= since
    ]
    candidates.sort(key=lambda s: s.sync_utc or since)
    return candidates[0].sync_id if candidates else None


@transaction.atomic
def _record_started(sync: Sync, codat_sync_id: str) -> Sync:
    now = timezone.now()
    Sync.objects.filter(pk=sync.pk, state=SyncState.INITIATING).update(
        state=SyncState.IN_PROGRESS,
        codat_sync_id=codat_sync_id,
        next_poll_at=now + FIRST_POLL_AFTER,
    )
    sync.batches.filter(state=BatchState.POSTED).update(state=BatchState.SYNC_REQUESTED)
    expenses_bulk_transition(
        expense_ids=list(
            PushBatchItem.objects.filter(
                batch__sync=sync, batch__state=BatchState.SYNC_REQUESTED
            ).values_list("expense_id", flat=True)
        ),
        current=ExpenseStatus.PUSHING,
        to=ExpenseStatus.SYNCING,
        message=f"In Codat sync {codat_sync_id}",
        data={"sync_id": codat_sync_id},
    )
    sync.refresh_from_db()
    return sync


@transaction.atomic
def _refused_by_codat(sync: Sync, refused: CodatError) -> Sync:
    """Codat would not start the sync (no valid connections): hand the expenses back."""
    reason = f"Codat would not start the sync: {refused.message}"
    Sync.objects.filter(pk=sync.pk).update(
        state=SyncState.FAILED, completed_at=timezone.now(), error_message=reason
    )
    sync.batches.filter(state__in=[BatchState.PENDING, BatchState.POSTED]).update(
        state=BatchState.ABANDONED, last_error=reason
    )
    expenses_bulk_transition(
        expense_ids=list(
            PushBatchItem.objects.filter(batch__sync=sync).values_list("expense_id", flat=True)
        ),
        current=ExpenseStatus.PUSHING,
        to=ExpenseStatus.APPROVED,
        message=reason[:1000],
    )
    sync.refresh_from_db()
    return sync


def _push_request_end(company: Company) -> None:
    """The company's push request is taken up by a claim, or refused: nothing waits for it."""
    Company.objects.filter(pk=company.pk, push_requested_at__isnull=False).update(
        push_requested_at=None
    )
    company.push_requested_at = None


# A request no claim took up in this long is no longer shown as in flight: its task is still
# queued behind other work, or was lost, and pushing again is allowed (a second claim of the
# same expenses finds them taken).
PUSH_REQUEST_WAIT = timedelta(minutes=15)


def company_push_requested(*, company: Company) -> bool:
    """Whether a push of the company was asked for moments ago and no claim took it up yet."""
    requested = company.push_requested_at
    return requested is not None and timezone.now() - requested < PUSH_REQUEST_WAIT


def company_push_in_flight(*, company: Company) -> bool:
    """Whether a push of the company was asked for and has not ended: requested and not yet
    taken up by a worker, or its sync not yet settled."""
    if company_push_requested(company=company):
        return True
    return Sync.objects.filter(
        company=company,
        kind=SyncKind.PUSH,
        state__in=[SyncState.INITIATING, SyncState.IN_PROGRESS],
    ).exists()


@transaction.atomic
def company_push_start(*, company: Company, by: Any = None) -> int:
    """The workspace's "Push approved": refused while a push of the company is in flight,
    else `company_push_request`. Returns how many approved expenses are being pushed."""
    if company_push_in_flight(company=company):
        raise PushRefused(
            "A push of this company is already under way: the button comes back when it ends."
        )
    return company_push_request(company=company, by=by)


@transaction.atomic
def company_push_request(*, company: Company, by: Any = None) -> int:
    """Queue a push of the company's approved expenses; returns how many are waiting.

    Refused with the reason when the company cannot push. The request is recorded on the
    company (`push_requested_at`) until a claim takes it up; the task starts after commit,
    and the page follows it through our own tables.
    """
    from syncs.tasks import push_company

    blockers = push_blockers(company=company)
    if blockers:
        raise PushRefused(blockers[0])
    waiting = Expense.objects.filter(company=company, status=ExpenseStatus.APPROVED).count()
    if waiting == 0:
        raise PushRefused("Nothing is approved yet: approve expenses in the Ready tab first.")
    now = timezone.now()
    Company.objects.filter(pk=company.pk).update(push_requested_at=now)
    company.push_requested_at = now
    transaction.on_commit(lambda: push_company.delay(company.pk))
    logger.info(
        "Push of %s approved expenses of company %s requested by %s", waiting, company.pk, by
    )
    return waiting


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
    expenses = _expenses_with_lines(expense_ids)
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
