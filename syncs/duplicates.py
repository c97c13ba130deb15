"""Codat's duplicate protection (5080) in the newer generation: an expense a sync of ours sent is
refused as "previously processed", and no sync the portal recorded completed it.

In the newer generation every send writes to the ledger, so the likeliest cause is a send of
ours whose answer never came back and whose sync was never recorded. Failing the expense as
usual would invite a third send (Retry failed items), so it is investigated once every result
of the sync is settled:

- the company's syncs Codat lists are read, newest first, for one that completed the expense
  (`codat.expenses_api.find_syncs_completing`; syncs the portal has settled are known already,
  and are skipped);
- found, that sync is recorded (imported, with its results) when the portal had not recorded
  it, and the expense is synced with it, its trail saying it was found already written;
- not found, the expense waits for support (`ExpenseStatus.NEEDS_SUPPORT`) with the reason:
  it may be in the ledger, and is never sent again until someone has looked.

A failure reading Codat propagates: the sync stays in progress, its expenses syncing, and the
next poll settles it again and investigates what is still waiting.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from codat import Exchange
from codat.expenses_api import CompletedSync, find_syncs_completing
from expenses.models import Expense, ExpenseStatus
from expenses.services import expenses_bulk_transition
from gateway.exchanges import codat_client, codat_exchanges_observe
from syncs.causes import normalise_cause
from syncs.models import (
    FAILED_TRANSACTION_STATUSES,
    SYNC_FINISHED_STATES,
    Sync,
    SyncKind,
    SyncState,
    SyncTransaction,
    TransactionStatus,
)
from syncs.services import sync_end, sync_status_fields

logger = logging.getLogger(__name__)

# The syncs read for the one that wrote an expense, at most: an expense written by a sync older
# than that many of the company's syncs waits for support.
DUPLICATE_SEARCH_LIMIT = 200

# Codat's words for a transaction its duplicate protection refused ("One or more transactions
# have previously been processed: {ids}"). The ids end at a bracket: a transaction the same
# sync left unprocessed quotes the sentence in brackets, naming the others.
_PREVIOUSLY_PROCESSED = re.compile(r"previously been processed:?(?P<ids>[^()]*)", re.IGNORECASE)


def named_as_duplicate(transaction_id: str, message: str) -> bool:
    """Whether Codat's `message` on a transaction says that transaction was written before:
    the message names it among the ids previously processed, or names none."""
    match = _PREVIOUSLY_PROCESSED.search(message)
    if match is None:
        return False
    named = {part.strip().lower() for part in match["ids"].split(",") if part.strip()}
    return not named or transaction_id.lower() in named


@dataclass
class Resolved:
    """What an investigation did: the expenses found written, with the sync that wrote them,
    and the expenses left to support."""

    found: dict[int, list[uuid.UUID]] = field(default_factory=dict)  # by our Sync's pk
    to_support: list[uuid.UUID] = field(default_factory=list)


def duplicates_waiting(sync: Sync) -> dict[uuid.UUID, str]:
    """The sync's expenses still syncing whose result in it says Codat's duplicate protection
    refused them, each with Codat's message. One query."""
    rows = SyncTransaction.objects.filter(
        sync=sync,
        expense__status=ExpenseStatus.SYNCING,
        status__in=FAILED_TRANSACTION_STATUSES,
    ).values_list("expense_id", "transaction_id", "message")
    return {
        expense_id: message
        for expense_id, transaction_id, message in rows
        if named_as_duplicate(str(transaction_id), message)
    }


def sync_duplicates_resolve(sync: Sync) -> Resolved:
    """Investigate the sync's expenses refused as written before (`duplicates_waiting`): each
    ends synced with the sync found to have written it, or waiting for support."""
    waiting = duplicates_waiting(sync)
    if not waiting:
        return Resolved()
    settled = Sync.objects.filter(
        company_id=sync.company_id, codat_sync_id__isnull=False, state__in=SYNC_FINISHED_STATES
    ).values_list("codat_sync_id", flat=True)
    exchanges: list[Exchange] = []
    client = codat_client(company_id=sync.company_id, keep_exchanges=exchanges)
    try:
        found = find_syncs_completing(
            client,
            str(sync.company.codat_company_id),
            [str(pk) for pk in waiting],
            skip_sync_ids={str(sync.codat_sync_id), *(str(known) for known in settled)},
            limit=DUPLICATE_SEARCH_LIMIT,
        )
    finally:
        codat_exchanges_observe(company_id=sync.company_id, exchanges=exchanges)
        client.close()
    return _record(sync, waiting, found)


@transaction.atomic
def _record(sync: Sync, waiting: dict[uuid.UUID, str], found: dict[str, CompletedSync]) -> Resolved:
    resolved = Resolved()
    by_sync: dict[str, list[uuid.UUID]] = {}
    for expense_id in waiting:
        completed = found.get(str(expense_id))
        if completed is None:
            resolved.to_support.append(expense_id)
        else:
            assert completed.status.sync_id is not None
            by_sync.setdefault(completed.status.sync_id, []).append(expense_id)
    for codat_sync_id, expense_ids in by_sync.items():
        ours, imported = _recorded_or_imported(sync, found[str(expense_ids[0])])
        how = "which the portal had not recorded" if imported else "which the portal follows"
        moved = expenses_bulk_transition(
            expense_ids=expense_ids,
            current=ExpenseStatus.SYNCING,
            to=ExpenseStatus.SYNCED,
            message=(
                f"Found already written to the ledger: Codat's duplicate protection stopped "
                f"sync {sync.codat_sync_id}, and sync {codat_sync_id}, {how}, had written it"
            ),
            data={"sync_id": codat_sync_id, "duplicate_in": str(sync.codat_sync_id)},
            extra={"failure_message": ""},
        )
        resolved.found[ours.pk] = moved
        logger.warning(
            "%s expenses refused as duplicates in sync %s were written by sync %s (%s)",
            len(moved),
            sync.codat_sync_id,
            codat_sync_id,
            "imported" if imported else "recorded",
            extra={"company_id": sync.company_id, "sync_id": sync.pk},
        )
    for expense_id in resolved.to_support:
        reason = (
            f"Codat's duplicate protection says this expense was written before (sync "
            f"{sync.codat_sync_id}), and no sync of the company that wrote it was found. It may "
            "be in the ledger already: support checks the ledger, then marks it synced, or "
            f"failed to send it again. (Codat: {waiting[expense_id]})"
        )
        for moved_id in expenses_bulk_transition(
            expense_ids=[expense_id],
            current=ExpenseStatus.SYNCING,
            to=ExpenseStatus.NEEDS_SUPPORT,
            message=reason[:1000],
            extra={"failure_message": reason},
        ):
            logger.warning(
                "Expense %s needs support: refused as a duplicate in sync %s, and no sync "
                "that wrote it was found",
                moved_id,
                sync.codat_sync_id,
                extra={"company_id": sync.company_id, "sync_id": sync.pk, "expense_id": moved_id},
            )
    return resolved


def _recorded_or_imported(sync: Sync, completed: CompletedSync) -> tuple[Sync, bool]:
    """Our record of the sync found (True: imported now, with its results)."""
    codat_sync_id = completed.status.sync_id
    known = Sync.objects.filter(codat_sync_id=codat_sync_id).first()
    if known is not None:
        return known, False
    try:
        with transaction.atomic():
            imported = _import(sync, completed)
    except IntegrityError:  # imported meanwhile by the settling of another sync
        return Sync.objects.get(codat_sync_id=codat_sync_id), False
    return imported, True


def _import(sync: Sync, completed: CompletedSync) -> Sync:
    """A sync Codat ran for the company that the portal never recorded (a send whose answer
    was lost), recorded as it ended, with its results, each linked to the company's expense."""
    status = completed.status
    imported = Sync.objects.create(
        company_id=sync.company_id,
        kind=SyncKind.PUSH,
        expenses_api=sync.expenses_api,
        state=SyncState.IN_PROGRESS,
        codat_sync_id=status.sync_id,
        **sync_status_fields(status),
        configuration_snapshot={
            "imported": f"Found while settling sync {sync.codat_sync_id}: Codat's duplicate "
            "protection pointed at it"
        },
    )
    # Every result the portal can keep: a transaction id of ours is an expense's UUID.
    results = {
        key: item
        for item in completed.transactions
        if (key := _as_uuid(item.transaction_id)) is not None
    }
    ours = set(
        Expense.objects.filter(company_id=sync.company_id, pk__in=list(results)).values_list(
            "pk", flat=True
        )
    )
    SyncTransaction.objects.bulk_create(
        [
            SyncTransaction(
                sync=imported,
                company_id=sync.company_id,
                transaction_id=transaction_id,
                expense_id=transaction_id if transaction_id in ours else None,
                status=item.status or TransactionStatus.UNKNOWN,
                message=item.message or "",
                cause=normalise_cause(item.message or "")
                if item.status in FAILED_TRANSACTION_STATUSES
                else "",
                integration_type=item.integration_type or "",
            )
            for transaction_id, item in results.items()
        ]
    )
    sync_end(imported)
    if status.sync_utc is not None:
        Sync.objects.filter(pk=imported.pk).update(requested_at=status.sync_utc)
    imported.refresh_from_db()
    return imported


def _as_uuid(transaction_id: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(transaction_id) if transaction_id else None
    except ValueError:
        return None
