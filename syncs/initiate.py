"""Starting the sync of a push whose batches are all sent — once, whatever crashes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from codat import (
    CodatGoneError,
    CodatRateLimitedError,
    CodatUnavailableError,
    CodatUnprocessableError,
    ExpensesApi,
)
from companies.platforms import ApiGeneration
from expenses.models import ExpenseStatus
from expenses.services import expenses_bulk_transition
from syncs.models import (
    BatchState,
    PushBatch,
    PushBatchItem,
    Sync,
    SyncState,
)
from syncs.plain_words import v1_retired_by_codat
from syncs.services import batches_move, sync_fail_unstarted, syncs_move

logger = logging.getLogger(__name__)


# Codat's clock and ours differ; a sync started this long before our request is still ours.
ADOPTION_MARGIN = timedelta(seconds=30)
FIRST_POLL_AFTER = timedelta(seconds=2)
# Longer than any initiate-sync call can take (the client's timeouts and retries included).
INITIATE_IN_FLIGHT = timedelta(minutes=2)
# Codat's answers that it turned a call away before doing anything: rate limited, or offline
# for maintenance (API-NOTES §6.2). Other failures may come after Codat started the sync.
TURNED_AWAY = frozenset({429, 503})


class InitiationInFlight(Exception):
    """Another worker asked Codat to start this sync moments ago; try again shortly."""


@transaction.atomic
def sync_close_empty(sync: Sync) -> Sync:
    syncs_move(
        Sync.objects.filter(pk=sync.pk),
        state=SyncState.FAILED,
        current=SyncState.INITIATING,
        completed_at=timezone.now(),
        error_message="Nothing was sent: every batch was refused.",
    )
    sync.refresh_from_db()
    return sync


def sync_initiate(sync: Sync, api: ExpensesApi, dataset_ids: list[str]) -> Sync:
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
        adopted = _lost_start(sync, api, since=sync.initiate_requested_at - ADOPTION_MARGIN)
        if adopted is not None:
            logger.info("Adopted sync %s for push %s after a lost answer", adopted, sync.pk)
            return sync_record_started(sync, adopted)
        if now - sync.initiate_requested_at < INITIATE_IN_FLIGHT:
            raise InitiationInFlight(sync.pk)
        # The earlier request is long gone and Codat started nothing: initiate again.
        Sync.objects.filter(pk=sync.pk).update(initiate_requested_at=now)
    sync.initiate_requested_at = now
    try:
        codat_sync_id = api.start(codat_company, dataset_ids)
    except CodatUnprocessableError as refused:
        return sync_refused_by_codat(
            sync, reason=f"Codat would not start the sync: {refused.message}"
        )
    except (CodatRateLimitedError, CodatUnavailableError) as failure:
        if failure.status in TURNED_AWAY:
            # No sync can have started: the next try initiates at once, instead of waiting
            # INITIATE_IN_FLIGHT for a sync to adopt.
            Sync.objects.filter(pk=sync.pk, initiate_requested_at=now).update(
                initiate_requested_at=None
            )
        raise
    return sync_record_started(sync, codat_sync_id)


def _lost_start(sync: Sync, api: ExpensesApi, *, since: datetime) -> str | None:
    """The sync Codat started for this push whose answer never came back, if any."""
    known = [
        str(i)
        for i in Sync.objects.filter(company=sync.company, codat_sync_id__isnull=False).values_list(
            "codat_sync_id", flat=True
        )
    ]
    expense_ids = [
        str(i)
        for i in PushBatchItem.objects.filter(
            batch__sync=sync, batch__state=BatchState.POSTED
        ).values_list("expense_id", flat=True)
    ]
    found = api.find_lost_submission(
        str(sync.company.codat_company_id), expense_ids, since=since, known_sync_ids=known
    )
    return found.sync_id if found is not None else None


@transaction.atomic
def sync_record_started(sync: Sync, codat_sync_id: str) -> Sync:
    """Codat started the sync: its sent batches and their expenses are in it now."""
    now = timezone.now()
    syncs_move(
        Sync.objects.filter(pk=sync.pk),
        state=SyncState.IN_PROGRESS,
        current=SyncState.INITIATING,
        codat_sync_id=codat_sync_id,
        next_poll_at=now + FIRST_POLL_AFTER,
    )
    batches_move(sync.batches.all(), state=BatchState.SYNC_REQUESTED, current=BatchState.POSTED)
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
def batch_record_started(batch: PushBatch, codat_sync_id: str) -> None:
    """A batch whose sending started its own sync: recorded sent, and its sync started. Only
    a batch still pending moves, so a sync recorded twice (a replayed answer, an adoption) is
    recorded once."""
    moved = batches_move(
        PushBatch.objects.filter(pk=batch.pk),
        state=BatchState.SYNC_REQUESTED,
        current=BatchState.PENDING,
        posted_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    if moved and batch.sync is not None:
        sync_record_started(batch.sync, codat_sync_id)


def gone_in_words(sync: Sync, gone: CodatGoneError) -> str:
    """A call of the sync's push Codat answered as switched off for good (410), in words that
    say what to do: for a v1 push, move the company to the newer API."""
    if sync.expenses_api == ApiGeneration.V1:
        return v1_retired_by_codat(sync.company, message=gone.message)
    return f"Codat no longer offers this operation: {gone.message}"


@transaction.atomic
def sync_refused_by_codat(sync: Sync, *, reason: str) -> Sync:
    """Codat would not take the push (no valid connections; v1 switched off) before writing
    anything: the sync ends unstarted with `reason`, and its expenses are approved again."""
    sync_fail_unstarted(sync=sync, reason=reason)
    batches_move(
        sync.batches.all(),
        state=BatchState.ABANDONED,
        current=[BatchState.PENDING, BatchState.POSTED],
        last_error=reason,
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
