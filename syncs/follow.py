"""Following a sync to its end and bringing its results home.

The status endpoint is the truth: webhooks only make us poll sooner. When a sync ends, every
transaction result is fetched (all pages) and each expense becomes synced or failed with
Codat's message in plain words. Duplicate protection (5080) is read as "already in the ledger"
only when an earlier sync of ours completed that expense.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import re
import threading
from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from itertools import islice
from typing import Any, NamedTuple, TypeVar, cast
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Field, Model, Q, QuerySet
from django.utils import timezone

from codat import Exchange
from companies.platforms import TransactionType
from expenses.models import Expense, ExpenseStatus, Receipt
from expenses.services import expenses_bulk_transition
from gateway.exchanges import codat_client, codat_exchanges_observe
from sfe_portal.db import id_array
from syncs.causes import normalise_cause
from syncs.models import (
    FAILED_TRANSACTION_STATUSES,
    BatchState,
    PushBatch,
    PushBatchItem,
    ReceiptUpload,
    Sync,
    SyncState,
    SyncTransaction,
    TransactionStatus,
    UploadState,
)

LONG_RUNNING_AFTER = timedelta(minutes=10)
POLL_BASE = timedelta(seconds=2)
POLL_CAP = timedelta(seconds=60)
DUPLICATE_PROTECTION = 5080
RESULTS_PAGE_SIZE = 5000
# Rows written or read per statement while settling a sync.
SETTLE_CHUNK = 1000
# "Company deleted/de-authorised" (API-NOTES §3.2).
CONNECTION_LOST_CODES = frozenset({4040, 4220})

logger = logging.getLogger(__name__)

T = TypeVar("T")


def poll_delay(poll_count: int) -> timedelta:
    """2 s, 3 s, 4.5 s, … growing by half each time, never more than a minute."""
    return min(POLL_CAP, POLL_BASE * (1.5 ** max(0, poll_count)))


def sync_poll_due_in(*, sync: Sync, at_least: float = 1.0) -> float:
    """Seconds until the sync's next poll is due (set by its start or its last poll), never
    less than `at_least`."""
    if sync.next_poll_at is None:
        return max(at_least, POLL_BASE.total_seconds())
    return max(at_least, (sync.next_poll_at - timezone.now()).total_seconds())


def sync_poll(*, sync: Sync, now: datetime | None = None) -> Sync:
    """Ask Codat how the sync is doing; reconcile it when it has ended."""
    now = now or timezone.now()
    if sync.state != SyncState.IN_PROGRESS:
        return sync
    client = codat_client(company_id=sync.company_id)
    status = client.get_sync_status(str(sync.company.codat_company_id), str(sync.codat_sync_id))
    long_running = status.sync_status_code == 1010 or now - sync.requested_at > LONG_RUNNING_AFTER
    Sync.objects.filter(pk=sync.pk).update(
        status_code=status.sync_status_code,
        status_text=(status.sync_status or "")[:100],
        error_message=status.error_message or "",
        exception_message=status.sync_exception_message or "",
        data_pushed=status.data_pushed,
        codat_sync_utc=status.sync_utc,
        last_polled_at=now,
        poll_count=sync.poll_count + 1,
        is_long_running=long_running,
        next_poll_at=now + poll_delay(sync.poll_count + 1) if status.in_progress else None,
    )
    sync.refresh_from_db()
    if status.in_progress:
        return sync
    return sync_reconcile(sync=sync)


def sync_poll_soon(*, sync: Sync) -> bool:
    """Ask for the sync to be polled now (a webhook arrived, or support asked); False when it
    has already ended. The poll is sent after commit, so it sees what the caller wrote."""
    if sync.state != SyncState.IN_PROGRESS:
        return False
    from syncs.tasks import poll_sync  # tasks import this module

    sync_pk = sync.pk
    transaction.on_commit(lambda: poll_sync.delay(sync_pk))
    return True


def sync_reconcile(*, sync: Sync) -> Sync:
    """Fetch every transaction result of an ended sync and settle its expenses. Idempotent.

    One pass: each chunk of results is kept as it arrives and its expenses settled at once, in
    a transaction of its own, while a thread fetches the next page. A sync of 50,000 is never
    held whole. The sync ends (with its counts) only once every chunk is settled; after a crash
    it is still followed, and the next poll settles what is left — each expense moves once,
    since a move only takes expenses still syncing.
    """
    exchanges: list[Exchange] = []
    client = codat_client(company_id=sync.company_id, keep_exchanges=exchanges)
    # Codat's largest page: a sync of 10,000 expenses settles in two requests, not a hundred.
    # The next page is fetched (by a thread that only talks HTTP) while this one is settled.
    results = _read_ahead(
        client.iter_sync_transactions(
            str(sync.company.codat_company_id),
            str(sync.codat_sync_id),
            page_size=RESULTS_PAGE_SIZE,
        ),
        ahead=RESULTS_PAGE_SIZE,
    )
    try:
        chunks: Iterator[Mapping[str, object]] = (
            {r.transaction_id: r for r in chunk if r.transaction_id}
            for chunk in iter(lambda: list(islice(results, SETTLE_CHUNK)), [])
        )
        if connection.vendor == "sqlite":
            # A database with one writer at a time (SQLite): the sync's transaction would hold
            # the write lock while the embedded sandbox, answering the next page, waits for it.
            # Every page is read first there.
            chunks = iter(list(chunks))
        return _reconcile(sync, chunks)
    finally:
        results.close()
        # The calls are logged for support whatever became of the settling.
        codat_exchanges_observe(company_id=sync.company_id, exchanges=exchanges)
        client.close()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


def _read_ahead(
    items: Iterator[T], *, ahead: int, step: int = SETTLE_CHUNK
) -> Generator[T, None, None]:
    """Yield `items` as a thread produces them, about `ahead` at most in advance, handed over
    `step` at a time (a hand-over per item, two locks each way, cost more than keeping the
    item). Closing the generator (or leaving it on an error) stops the thread at its next
    hand-over; what was read before an error is yielded before it is raised."""
    step = max(1, min(step, ahead))
    buffer: queue.Queue[object] = queue.Queue(maxsize=max(1, ahead // step))
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(value, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        batch: list[T] = []
        try:
            for item in items:
                batch.append(item)
                if len(batch) >= step:
                    if not put(batch):
                        return
                    batch = []
        except BaseException as error:  # handed to the reader, who raises it
            if not batch or put(batch):
                put(_Failed(error))
            return
        if not batch or put(batch):
            put(_DONE)

    reader = threading.Thread(
        target=contextvars.copy_context().run, args=(produce,), daemon=True, name="read-ahead"
    )
    reader.start()
    try:
        while True:
            value = buffer.get()
            if value is _DONE:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield from cast("list[T]", value)
    finally:
        stop.set()
        reader.join(timeout=5)


def _settle(sync: Sync, results: Mapping[str, object]) -> Sync:
    """Settle the sync from all its results at once (what `sync_reconcile` does per page)."""
    outcome = list(results.items())
    chunks = range(0, len(outcome), SETTLE_CHUNK)
    return _reconcile(sync, (dict(outcome[start : start + SETTLE_CHUNK]) for start in chunks))


def _in_sync(sync: Sync) -> Q:
    # Read through a subquery: a sync of 50,000 expenses is never sent back to the database
    # as 50,000 parameters.
    in_sync = Q(pk__in=PushBatchItem.objects.filter(batch__sync=sync).values("expense_id"))
    if sync.update_of_id:
        in_sync |= Q(pk=sync.update_of_id)
    return in_sync


# A kept result of one of the sync's own expenses: (transaction id, status, message).
_Ours = tuple[Any, str, str]


def _keep_results(sync: Sync, results: Mapping[str, object]) -> list[_Ours]:
    """Upsert a chunk of the sync's results, each linked to its expense when it is one of
    this sync's; returns those that are."""
    if not results:
        return []
    rows = []
    for transaction_id, result in results.items():
        status = getattr(result, "status", None) or TransactionStatus.UNKNOWN
        message = getattr(result, "message", None) or ""
        rows.append(
            _Kept(
                transaction_id=transaction_id,
                status=status,
                message=message,
                cause=normalise_cause(message) if status in FAILED_TRANSACTION_STATUSES else "",
                integration_type=getattr(result, "integration_type", None) or "",
            )
        )
    if connection.vendor == "postgresql":
        return _upsert_unnest(sync, rows)
    ours = {
        str(pk)
        for pk in PushBatchItem.objects.filter(
            batch__sync=sync, expense_id__in=list(results)
        ).values_list("expense_id", flat=True)
    }
    if sync.update_of_id:
        ours.add(str(sync.update_of_id))
    SyncTransaction.objects.bulk_create(
        [
            SyncTransaction(
                sync=sync,
                company_id=sync.company_id,
                expense_id=row.transaction_id if row.transaction_id in ours else None,
                **row._asdict(),
            )
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["sync", "transaction_id"],
        update_fields=[*_KEPT_UPDATED, "company", "fetched_at"],
    )
    return [
        (row.transaction_id, row.status, row.message) for row in rows if row.transaction_id in ours
    ]


class _Kept(NamedTuple):
    transaction_id: str
    status: str
    message: str
    cause: str
    integration_type: str


_KEPT_UPDATED = ["expense", "status", "message", "cause", "integration_type"]


def _upsert_unnest(sync: Sync, rows: list[_Kept]) -> list[_Ours]:
    """PostgreSQL: the chunk in one statement, each column sent as one array, each result
    linked to its expense when one of this sync's batches holds it. Building a model instance
    per result and preparing every field of each took far longer than the database took to
    write them."""
    qn = connection.ops.quote_name

    def column(model: type[Model], name: str) -> str:
        return qn(cast("Field[Any, Any]", model._meta.get_field(name)).column)

    def table(model: type[Model]) -> str:
        return qn(model._meta.db_table)

    fields = list(_Kept._fields)
    kept = ", ".join(f"kept.{name}" for name in fields)
    targets = ", ".join(
        column(SyncTransaction, name)
        for name in ["sync", "company", "expense", *fields, "fetched_at"]
    )
    arrays = ", ".join(
        f"CAST(%s AS {'uuid[]' if name == 'transaction_id' else 'text[]'})" for name in fields
    )
    updated = ", ".join(
        f"{column(SyncTransaction, name)} = EXCLUDED.{column(SyncTransaction, name)}"
        for name in [*_KEPT_UPDATED, "company", "fetched_at"]
    )
    unique = ", ".join(column(SyncTransaction, name) for name in ["sync", "transaction_id"])
    item, batch = PushBatchItem, PushBatch
    # Only table and column names from the models are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {table(SyncTransaction)} ({targets}) "  # noqa: S608
        f"SELECT %s, %s, CASE WHEN kept.transaction_id = %s OR EXISTS ("
        f"SELECT 1 FROM {table(item)} JOIN {table(batch)} "
        f"ON {table(batch)}.{column(batch, 'id')} = {table(item)}.{column(item, 'batch')} "
        f"WHERE {table(item)}.{column(item, 'expense')} = kept.transaction_id "
        f"AND {table(batch)}.{column(batch, 'sync')} = %s"
        f") THEN kept.transaction_id END, {kept}, %s "
        f"FROM UNNEST({arrays}) AS kept ({', '.join(fields)}) "
        f"ON CONFLICT ({unique}) DO UPDATE SET {updated} "
        f"RETURNING {column(SyncTransaction, 'transaction_id')}, "
        f"{column(SyncTransaction, 'status')}, {column(SyncTransaction, 'message')}, "
        f"{column(SyncTransaction, 'expense')}"
    )
    columns = [
        # Each id checked to be one before it is written into the array literal.
        id_array(UUID(v) for v in values) if name == "transaction_id" else list(values)
        for name, values in zip(fields, zip(*rows, strict=True), strict=True)
    ]
    params = [sync.pk, sync.company_id, sync.update_of_id, sync.pk, timezone.now(), *columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            (transaction_id, status, message)
            for transaction_id, status, message, expense_id in cursor.fetchall()
            if expense_id is not None
        ]


def _reconcile(sync: Sync, chunks: Iterator[Mapping[str, object]]) -> Sync:
    """Keep each chunk of the sync's results and settle its expenses still syncing, a chunk a
    transaction; then, all at once, fail those Codat gave no result for and end the sync."""
    # Receipts are looked for per chunk only when the sync's expenses have any.
    with_receipts = Receipt.objects.filter(
        expense__in=Expense.objects.filter(_in_sync(sync)).values("pk")
    ).exists()
    settlers = settings.SYNC_SETTLERS if connection.vendor == "postgresql" else 1
    if settlers > 1 and not connection.in_atomic_block:
        _settle_side_by_side(sync, chunks, settlers=settlers, with_receipts=with_receipts)
    else:
        # (Inside a caller's transaction, other connections would not see what it holds.)
        for results in chunks:
            _settle_results(sync, results, with_receipts=with_receipts)
    return _end(sync, with_receipts=with_receipts)


@transaction.atomic
def _settle_results(sync: Sync, results: Mapping[str, object], *, with_receipts: bool) -> None:
    """Keep a chunk of the sync's results and settle its expenses, in one transaction.

    A result kept before was settled with its expense in the same transaction, by a pass cut
    short: since then its expense may have moved on (failed, fixed and syncing in a newer sync),
    so the result is kept again but its expense is not settled again."""
    settled_before = _kept_before(sync, list(results))
    kept = _keep_results(sync, results)
    if settled_before:
        kept = [row for row in kept if str(row[0]) not in settled_before]
    _settle_chunk(sync, kept, with_receipts=with_receipts)


def _kept_before(sync: Sync, transaction_ids: list[str]) -> set[str]:
    return {
        str(transaction_id)
        for transaction_id in SyncTransaction.objects.filter(
            sync=sync, transaction_id__any_of=transaction_ids
        )
        .order_by()  # the model's ordering would join the sync to sort a set
        .values_list("transaction_id", flat=True)
    }


def _settle_side_by_side(
    sync: Sync, chunks: Iterator[Mapping[str, object]], *, settlers: int, with_receipts: bool
) -> None:
    """Settle the chunks from `settlers` threads at once, each on a connection of its own,
    while this thread reads the next chunks (a settled chunk mostly waits on the database).

    At most `settlers` chunks wait to be taken. A failed chunk stops the others before their
    next one and is raised once all have stopped: the chunks committed stay settled."""
    todo: queue.Queue[Mapping[str, object] | None] = queue.Queue(maxsize=settlers)
    failures: list[BaseException] = []
    stop = threading.Event()

    def settler() -> None:
        try:
            # Taken to the end whatever happens, so that handing over a chunk never blocks.
            while (results := todo.get()) is not None:
                if stop.is_set():
                    continue
                try:
                    _settle_results(sync, results, with_receipts=with_receipts)
                except BaseException as error:  # raised by the caller once all have stopped
                    failures.append(error)
                    stop.set()
        finally:
            connection.close()  # this thread's own

    threads = [
        threading.Thread(
            # Each settler runs in a copy of the caller's context, so its log lines keep the
            # task's.
            target=contextvars.copy_context().run,
            args=(settler,),
            name=f"sync-settle-{n}",
            daemon=True,
        )
        for n in range(settlers)
    ]
    for thread in threads:
        thread.start()
    try:
        for results in chunks:
            if stop.is_set():
                break
            todo.put(results)
    finally:
        for _ in threads:
            todo.put(None)
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]


@transaction.atomic
def _end(sync: Sync, *, with_receipts: bool) -> Sync:
    """Once every result is settled: fail the sync's expenses Codat gave no result for, and
    end the sync with its counts."""
    # The sync's expenses Codat gave no result for failed with the sync's reason.
    unanswered = (
        Expense.objects.filter(_in_sync(sync), status=ExpenseStatus.SYNCING)
        .exclude(
            pk__in=SyncTransaction.objects.filter(sync=sync, expense__isnull=False).values(
                "expense_id"
            )
        )
        .values_list("pk", flat=True)
    )
    _settle_expenses(
        sync, [], dict.fromkeys(unanswered, _sync_failure(sync)), with_receipts=with_receipts
    )
    if sync.status_code in CONNECTION_LOST_CODES:
        from companies.onboarding import company_codat_reported_unlinked

        # Codat says the ledger is out of reach: stop pushes and show the banner at once.
        company_codat_reported_unlinked(company=sync.company)
    counts = SyncTransaction.objects.filter(sync=sync).aggregate(
        completed=Count("pk", filter=Q(status=TransactionStatus.COMPLETED)),
        failed=Count("pk", filter=Q(status__in=FAILED_TRANSACTION_STATUSES)),
    )
    succeeded = sync.status_code is not None and 2000 <= sync.status_code < 3000
    Sync.objects.filter(pk=sync.pk, state=SyncState.IN_PROGRESS).update(
        state=SyncState.SUCCEEDED if succeeded else SyncState.FAILED,
        completed_at=timezone.now(),
        results_fetched_at=timezone.now(),
        transactions_completed=counts["completed"],
        transactions_failed=counts["failed"],
    )
    sync.batches.filter(state=BatchState.SYNC_REQUESTED).update(state=BatchState.DONE)
    sync.refresh_from_db()
    return sync


def _settle_chunk(sync: Sync, chunk: list[_Ours], *, with_receipts: bool) -> None:
    """Settle the expenses of a chunk of kept results; those already settled are left as
    they are by the (conditional) moves."""
    ids = [str(transaction_id) for transaction_id, _, _ in chunk]
    already_in_ledger = (
        _completed_before(sync, ids) if sync.status_code == DUPLICATE_PROTECTION else set()
    )
    completed: list[object] = []
    failed: dict[object, str] = {}
    needs_words: dict[str, str] = {}
    for transaction_id, status, message in chunk:
        if status == TransactionStatus.COMPLETED or str(transaction_id) in already_in_ledger:
            completed.append(transaction_id)
        elif status in (TransactionStatus.VALIDATION_ERROR, TransactionStatus.PUSH_ERROR):
            needs_words[str(transaction_id)] = message or ""
        else:
            failed[transaction_id] = _sync_failure(sync)
    for expense in Expense.objects.filter(pk__in=list(needs_words)):
        failed[expense.pk] = plain_words(needs_words[str(expense.pk)], expense)
    _settle_expenses(sync, completed, failed, with_receipts=with_receipts)


def _settle_expenses(
    sync: Sync, completed: list[object], failed: dict[object, str], *, with_receipts: bool
) -> None:
    """Move those of the expenses still syncing to synced or failed (each with its reason);
    the others were settled before and are left alone."""
    synced = expenses_bulk_transition(
        expense_ids=completed,
        current=ExpenseStatus.SYNCING,
        to=ExpenseStatus.SYNCED,
        message=f"Written to the ledger by sync {sync.codat_sync_id}",
        extra={"failure_message": ""},
    )
    # One move per distinct reason: a sync that failed as a whole fails its expenses together.
    by_reason: dict[str, list[object]] = {}
    for expense_id, message in failed.items():
        by_reason.setdefault(message, []).append(expense_id)
    for message, expense_ids in by_reason.items():
        for expense_id in expenses_bulk_transition(
            expense_ids=expense_ids,
            current=ExpenseStatus.SYNCING,
            to=ExpenseStatus.FAILED,
            message=message[:1000],
            extra={"failure_message": message},
        ):
            logger.info(
                "Expense %s failed in sync %s: %s",
                expense_id,
                sync.codat_sync_id,
                message,
                extra={
                    "company_id": sync.company_id,
                    "sync_id": sync.pk,
                    "expense_id": expense_id,
                },
            )
    for expense_id in synced:
        logger.info(
            "Expense %s written to the ledger by sync %s",
            expense_id,
            sync.codat_sync_id,
            extra={"company_id": sync.company_id, "sync_id": sync.pk, "expense_id": expense_id},
        )
    if with_receipts:
        _queue_receipts(sync, synced)


def completed_in_other_syncs(sync: Sync, expense_ids: list[str]) -> QuerySet[SyncTransaction]:
    """The completed results of these expenses in syncs other than `sync`. A result names its
    expense whenever the expense was one of its sync's, so the expense's index finds them
    among all the results ever kept."""
    return (
        SyncTransaction.objects.filter(
            expense_id__any_of=expense_ids, status=TransactionStatus.COMPLETED
        )
        .exclude(sync=sync)
        .order_by()
    )


def _completed_before(sync: Sync, expense_ids: list[str]) -> set[str]:
    return {
        str(pk)
        for pk in completed_in_other_syncs(sync, expense_ids).values_list("expense_id", flat=True)
    }


def _sync_failure(sync: Sync) -> str:
    text = sync.error_message or sync.status_text or "no reason given"
    return f"The sync ended with code {sync.status_code} ({text}) before writing this expense."


def _queue_receipts(sync: Sync, expense_ids: Sequence[object]) -> None:
    from syncs.tasks import upload_receipt  # tasks import this module

    receipts = list(Receipt.objects.filter(expense_id__in=expense_ids).only("pk"))
    if not receipts:
        return
    ReceiptUpload.objects.bulk_create(
        [ReceiptUpload(receipt=r, sync=sync) for r in receipts], ignore_conflicts=True
    )
    # bulk_create with ignore_conflicts returns no ids, so read back what is waiting. Each file
    # is sent by a task of its own, after commit, so one refused file never holds up the rest.
    for upload_id in ReceiptUpload.objects.filter(
        sync=sync, receipt__expense_id__in=expense_ids, state=UploadState.PENDING
    ).values_list("pk", flat=True):
        transaction.on_commit(partial(upload_receipt.delay, upload_id))


# Codat's messages name ids; the portal names what finance staff see and says what to do.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"Account (?P<account>.+?) is not valid for transaction type (?P<type>\w+)"),
        "Account {account} does not accept {type_label} transactions — choose an account "
        "valid for {type_label} and approve again.",
    ),
    (
        re.compile(r"Account (?P<account>.+?) is archived"),
        "Account {account} was archived in the accounting software — choose another account "
        "and approve again.",
    ),
    (
        re.compile(r"Account (?P<account>.+?) does not exist"),
        "Account {account} no longer exists in the accounting software — choose another "
        "account and approve again.",
    ),
    (
        re.compile(r"Tax rate (?P<rate>.+?) is (not valid|archived|does not exist)"),
        "Tax rate {rate} cannot be used any more — choose another tax rate and approve again.",
    ),
    (
        re.compile(r"period lock date"),
        "The accounting period is locked for this date — ask the accountant to reopen it, or "
        "exclude the expense.",
    ),
]


def plain_words(message: str, expense: Expense) -> str:
    """Codat's message, translated where we know it, always followed by Codat's own words."""
    type_label = TransactionType(expense.type).label
    for pattern, template in _PATTERNS:
        match = pattern.search(message)
        if match:
            words = template.format(type_label=type_label, **match.groupdict())
            return f"{words} (Codat: {message})"
    return f"Codat refused it: {message}" if message else "Codat gave no reason."
