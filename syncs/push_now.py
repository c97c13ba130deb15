"""Pushing a company's approved expenses here and now and following its syncs to their end: what
`sync_now --wait` runs.

The worker's steps, call-slot claims and backoff (`syncs.retries`): where a task would queue
itself again with a countdown, this waits in the foreground, within a time budget. A company
whose expenses could not all be pushed says how many and why. Nothing is lost then: the expenses
Codat turned away are approved again, and what was left in flight is resumed by the worker's
sweeper, or by running the command again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial

from django.db.models import Count, Q

from codat import CodatError
from companies.models import Company
from expenses.models import Expense, ExpenseStatus
from syncs.claim import PushRefused
from syncs.models import (
    BatchState,
    PushBatchItem,
    ReceiptUpload,
    Sync,
    SyncKind,
    SyncState,
    UploadState,
)
from syncs.poll import sync_poll, sync_poll_due_in
from syncs.receipt_uploads import receipt_upload_send
from syncs.retries import (
    MAX_RETRIES,
    TRANSIENT,
    ForegroundWait,
    GaveUp,
    send_batches_next_try,
)
from syncs.send import company_push_turn, sync_send_turn

WAIT_LIMIT_S = 30 * 60
HOLDER = "sync_now"
_UNFINISHED = (SyncState.INITIATING, SyncState.IN_PROGRESS)
_NOT_THROUGH = (ExpenseStatus.APPROVED, ExpenseStatus.PUSHING, ExpenseStatus.SYNCING)
_UPLOAD_WAITING = (UploadState.PENDING, UploadState.FAILED, UploadState.UPLOADING)


@dataclass
class PushReport:
    """How one company's push ended. `not_pushed` counts the expenses that are not in the
    ledger nor refused by Codat: still approved, pushing or syncing; `problem` says why."""

    company: str
    pushed: int = 0
    synced: int = 0
    failed: int = 0
    receipts_uploaded: int = 0
    receipts_waiting: int = 0
    not_pushed: int = 0
    problem: str = ""

    @property
    def complete(self) -> bool:
        return not self.not_pushed and not self.problem

    @property
    def nothing_to_do(self) -> bool:
        return self.complete and not self.pushed

    def line(self) -> str:
        if self.nothing_to_do:
            return f"{self.company}: nothing approved to push."
        line = (
            f"{self.company}: pushed {self.pushed}, synced {self.synced}, failed {self.failed}, "
            f"receipts uploaded {self.receipts_uploaded}"
        )
        if self.receipts_waiting:
            line += f" ({self.receipts_waiting} more left for the worker to send)"
        if not self.complete:
            line += f"; not pushed {self.not_pushed} — {self.problem}"
        return line


def company_push_now(
    *,
    company: Company,
    budget_s: float = WAIT_LIMIT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PushReport:
    """Push the company's approved expenses, send every push of it not yet sent, follow each
    sync to its end and send the receipts of what it wrote, riding out Codat's transient
    failures for at most `budget_s` seconds of waiting (on `clock`, with `sleep`)."""
    wait = ForegroundWait(
        company_id=company.pk, holder=HOLDER, budget_s=budget_s, clock=clock, sleep=sleep
    )
    refused = ""
    try:
        company_push_turn(company=company, holder=HOLDER)
    except PushRefused as refusal:
        refused = str(refusal)
    # Pushes left unfinished by an earlier run, or by a worker, are followed too: none of this
    # company's expenses is left pushing or syncing when every one ends.
    syncs = list(
        Sync.objects.filter(company=company, kind=SyncKind.PUSH, state__in=_UNFINISHED)
        .select_related("company")
        .order_by("pk")
    )
    problem = ""
    try:
        for sync in syncs:
            _follow(_send(sync, wait), wait)
    except GaveUp as gave_up:
        problem = f"{gave_up}. Nothing is lost: run it again, or let the worker resume it."
    except CodatError as error:  # not transient: the key, the company or its connections
        problem = f"Codat refused: {error}. Nothing is lost: run it again once that is fixed."
    else:
        # The expenses are in the ledger by now: receipts the company's call slots never had
        # room for are left to the worker's sweeper.
        with suppress(GaveUp):
            _send_receipts(syncs, wait)
    return _report(company, syncs, refused=refused, problem=problem)


def _reload(sync: Sync) -> Sync:
    return Sync.objects.select_related("company").get(pk=sync.pk)


def _pending(sync: Sync) -> int:
    return sync.batches.filter(state=BatchState.PENDING).count()


def _send(sync: Sync, wait: ForegroundWait) -> Sync:
    """Post the push's datasets and initiate its sync, turn after turn as `send_batches` does,
    with its backoff after a turn cut short by a transient failure."""
    stalls = 0
    while sync.state == SyncState.INITIATING:
        pending = _pending(sync)
        try:
            sync = wait.when_free(partial(sync_send_turn, sync=sync, holder=HOLDER))
        except TRANSIENT as exc:
            progressed = _pending(sync) < pending
            stalls, seconds = send_batches_next_try(stalls=stalls, progressed=progressed, exc=exc)
            if stalls > MAX_RETRIES:
                raise GaveUp(f"Codat failed {stalls} turns in a row ({exc})") from exc
            wait.wait(seconds, why=f"Codat kept failing ({exc})")
            sync = _reload(sync)
            continue
        if sync.state == SyncState.INITIATING and not _pending(sync):
            # Another process is still claiming into this push; it is initiated once complete.
            wait.wait(1.0, why="another process was still claiming this push")
            sync = _reload(sync)
    return sync


def _follow(sync: Sync, wait: ForegroundWait) -> Sync:
    """Poll the sync when each poll is due, as `poll_sync` does, until it ends and is settled."""
    while sync.state == SyncState.IN_PROGRESS:
        wait.wait(sync_poll_due_in(sync=sync, at_least=0.5), why="the sync was still running")
        sync = wait.retrying(partial(wait.in_slot, partial(_poll, sync.pk)))
    return sync


def _poll(sync_id: int) -> Sync:
    return sync_poll(sync=Sync.objects.select_related("company").get(pk=sync_id))


def _send_receipts(syncs: list[Sync], wait: ForegroundWait) -> None:
    """Send the receipts of what the syncs wrote, those due now. One that fails is left to the
    worker, which tries it again on the upload's own backoff (30 seconds, doubling): waiting
    that out here would hold every later company for minutes, over expenses already in the
    ledger."""
    waiting = ReceiptUpload.objects.filter(
        sync__in=syncs, state__in=[UploadState.PENDING, UploadState.FAILED]
    )
    for upload in waiting.order_by("pk"):
        # Not due yet: the claim leaves it as it is.
        wait.in_slot(partial(receipt_upload_send, upload=upload))


def _report(company: Company, syncs: list[Sync], *, refused: str, problem: str) -> PushReport:
    counts = PushBatchItem.objects.filter(batch__sync__in=syncs).aggregate(
        total=Count("pk"),
        synced=Count("pk", filter=Q(expense__status=ExpenseStatus.SYNCED)),
        failed=Count("pk", filter=Q(expense__status=ExpenseStatus.FAILED)),
        left=Count("pk", filter=Q(expense__status__in=_NOT_THROUGH)),
    )
    receipts = ReceiptUpload.objects.filter(sync__in=syncs).aggregate(
        uploaded=Count("pk", filter=Q(state=UploadState.UPLOADED)),
        waiting=Count("pk", filter=Q(state__in=_UPLOAD_WAITING)),
    )
    waiting = (
        Expense.objects.filter(company=company, status=ExpenseStatus.APPROVED).count()
        if refused
        else 0
    )
    left = counts["left"]
    if left and not problem:
        # Codat would not start a sync (its connections): its expenses are approved again.
        problem = next(
            (
                sync.error_message
                for sync in Sync.objects.filter(pk__in=[s.pk for s in syncs]).order_by("pk")
                if sync.state == SyncState.FAILED and sync.error_message
            ),
            "they are still in flight: the worker resumes them.",
        )
    return PushReport(
        company=company.name,
        pushed=counts["total"] - left,
        synced=counts["synced"],
        failed=counts["failed"],
        receipts_uploaded=receipts["uploaded"],
        receipts_waiting=receipts["waiting"],
        not_pushed=left + waiting,
        problem=" ".join(p for p in (refused if waiting else "", problem) if p),
    )
