"""Settling an ended sync: its results kept, its expenses synced or failed."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from itertools import chain, islice

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from codat import Exchange
from companies.platforms import ApiGeneration
from expenses.models import Expense, ExpenseStatus, Receipt
from expenses.services import expenses_bulk_transition
from gateway.exchanges import codat_client, codat_exchanges_observe
from syncs.causes import normalise_cause
from syncs.duplicates import named_as_duplicate, sync_duplicates_resolve
from syncs.fast_sql import KEPT_UPDATED, KeptResult, OwnResult, results_upsert
from syncs.models import (
    FAILED_TRANSACTION_STATUSES,
    BatchState,
    PushBatchItem,
    ReceiptUpload,
    Sync,
    SyncTransaction,
    TransactionStatus,
    UploadState,
)
from syncs.plain_words import plain_words
from syncs.services import batches_move, sync_code_succeeded, sync_end
from syncs.side_by_side import SideBySide, read_ahead
from syncs.signals import sync_settled

logger = logging.getLogger(__name__)

DUPLICATE_PROTECTION = 5080
RESULTS_PAGE_SIZE = 5000
# Rows written or read per statement while settling a sync.
SETTLE_CHUNK = 1000
# "Company deleted/de-authorised" (API-NOTES §3.2).
CONNECTION_LOST_CODES = frozenset({4040, 4220})


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
    results = read_ahead(
        client.iter_sync_transactions(
            str(sync.company.codat_company_id),
            str(sync.codat_sync_id),
            page_size=RESULTS_PAGE_SIZE,
        ),
        ahead=RESULTS_PAGE_SIZE,
        step=SETTLE_CHUNK,
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


def sync_settle(*, sync: Sync, results: Mapping[str, object]) -> Sync:
    """Settle the sync from results already fetched, all at once (what `sync_reconcile` does
    page by page as it fetches them)."""
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


def _keep_results(sync: Sync, results: Mapping[str, object]) -> list[OwnResult]:
    """Upsert a chunk of the sync's results, each linked to its expense when it is one of
    this sync's; returns those that are."""
    if not results:
        return []
    rows = []
    for transaction_id, result in results.items():
        status = getattr(result, "status", None) or TransactionStatus.UNKNOWN
        message = getattr(result, "message", None) or ""
        rows.append(
            KeptResult(
                transaction_id=transaction_id,
                status=status,
                message=message,
                cause=normalise_cause(message) if status in FAILED_TRANSACTION_STATUSES else "",
                integration_type=getattr(result, "integration_type", None) or "",
            )
        )
    if connection.vendor == "postgresql":
        return results_upsert(sync, rows)
    return results_upsert_orm(sync, rows)


def results_upsert_orm(sync: Sync, rows: list[KeptResult]) -> list[OwnResult]:
    """`fast_sql.results_upsert` through the ORM (SQLite): the same rows, the same answer."""
    ours = {
        str(pk)
        for pk in PushBatchItem.objects.filter(
            batch__sync=sync, expense_id__in=[row.transaction_id for row in rows]
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
        update_fields=[*KEPT_UPDATED, "company", "fetched_at"],
    )
    return [
        (row.transaction_id, row.status, row.message) for row in rows if row.transaction_id in ours
    ]


def _reconcile(sync: Sync, chunks: Iterator[Mapping[str, object]]) -> Sync:
    """Keep each chunk of the sync's results and settle its expenses still syncing, a chunk a
    transaction; then, all at once, fail those Codat gave no result for and end the sync."""
    # Receipts are looked for per chunk only when the sync's expenses have any.
    with_receipts = Receipt.objects.filter(
        expense__in=Expense.objects.filter(_in_sync(sync)).values("pk")
    ).exists()
    settlers = settings.SYNC_SETTLERS if connection.vendor == "postgresql" else 1
    # A sync of one chunk (a batch of the newer generation is a sync of its own) is settled
    # here: threads with connections of their own would cost more than they could save.
    ahead = list(islice(chunks, 2))
    chunks = chain(ahead, chunks)
    if settlers > 1 and len(ahead) > 1 and not connection.in_atomic_block:
        _settle_side_by_side(sync, chunks, settlers=settlers, with_receipts=with_receipts)
    else:
        # (Inside a caller's transaction, other connections would not see what it holds.)
        for results in chunks:
            settle_results(sync, results, with_receipts=with_receipts)
    if _investigates_duplicates(sync):
        resolved = sync_duplicates_resolve(sync)
        if with_receipts:
            for found_in, expense_ids in resolved.found.items():
                _queue_receipts(Sync.objects.get(pk=found_in), expense_ids)
    return _end(sync, with_receipts=with_receipts)


def _investigates_duplicates(sync: Sync) -> bool:
    """Whether the sync's results Codat's duplicate protection refused are investigated
    (`syncs.duplicates`) rather than failed: in the newer generation, where every send writes,
    once the sync has not succeeded."""
    return sync.expenses_api == ApiGeneration.EXPENSES and not sync_code_succeeded(sync.status_code)


@transaction.atomic
def settle_results(sync: Sync, results: Mapping[str, object], *, with_receipts: bool) -> None:
    """Keep a chunk of the sync's results and settle its expenses, in one transaction.

    A result kept before was settled with its expense in the same transaction, by a pass cut
    short: since then its expense may have moved on (failed, fixed and syncing in a newer sync),
    so the result is kept again but its expense is not settled again."""
    settled_before = _kept_before(sync, list(results))
    kept = _keep_results(sync, results)
    if settled_before:
        kept = [row for row in kept if str(row[0]) not in settled_before]
    settle_chunk(sync, kept, with_receipts=with_receipts)


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
    with SideBySide(
        partial(settle_results, sync, with_receipts=with_receipts),
        threads=settlers,
        name="sync-settle",
        backlog=settlers,
        own_connection=True,
    ) as settling:
        for results in chunks:
            if not settling.put(results):
                break


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
    settle_expenses(
        sync, [], dict.fromkeys(unanswered, _sync_failure(sync)), with_receipts=with_receipts
    )
    if sync.status_code in CONNECTION_LOST_CODES:
        from companies.onboarding import company_codat_reported_unlinked

        # Codat says the ledger is out of reach: stop pushes and show the banner at once.
        company_codat_reported_unlinked(company=sync.company)
    sync_end(sync)
    batches_move(sync.batches.all(), state=BatchState.DONE, current=BatchState.SYNC_REQUESTED)
    sync.refresh_from_db()
    sync_settled.send(sender=Sync, sync=sync)
    return sync


def settle_chunk(sync: Sync, chunk: list[OwnResult], *, with_receipts: bool) -> None:
    """Settle the expenses of a chunk of kept results; those already settled are left as
    they are by the (conditional) moves."""
    ids = [str(transaction_id) for transaction_id, _, _ in chunk]
    # Refused as written before: investigated once every chunk is settled (`syncs.duplicates`),
    # unless a sync the portal settled completed them.
    duplicates = (
        {
            str(transaction_id)
            for transaction_id, status, message in chunk
            if status in FAILED_TRANSACTION_STATUSES
            and named_as_duplicate(str(transaction_id), message or "")
        }
        if _investigates_duplicates(sync)
        else set()
    )
    looked_up = ids if sync.status_code == DUPLICATE_PROTECTION else sorted(duplicates)
    already_in_ledger = _completed_before(sync, looked_up) if looked_up else set()
    completed: list[object] = []
    failed: dict[object, str] = {}
    needs_words: dict[str, str] = {}
    for transaction_id, status, message in chunk:
        if status == TransactionStatus.COMPLETED or str(transaction_id) in already_in_ledger:
            completed.append(transaction_id)
        elif str(transaction_id) in duplicates:
            continue  # left syncing until the investigation
        elif status in (TransactionStatus.VALIDATION_ERROR, TransactionStatus.PUSH_ERROR):
            needs_words[str(transaction_id)] = message or ""
        else:
            failed[transaction_id] = _sync_failure(sync)
    for expense in Expense.objects.filter(pk__in=list(needs_words)):
        failed[expense.pk] = plain_words(needs_words[str(expense.pk)], expense)
    settle_expenses(sync, completed, failed, with_receipts=with_receipts)


def settle_expenses(
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
