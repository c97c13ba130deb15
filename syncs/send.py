"""Sending a push's batches to Codat, side by side on the company's call slots.

Each batch goes out as it was planned (`PlannedBatch`: its items' JSON and its key), through
the `ExpensesApi` of the generation it was written through. What comes back is recorded only on
a batch still pending, so a batch posted by two workers is recorded once. A v1 dataset posted
but not recorded is posted again on retry: it writes nothing until initiated. A batch whose
sending writes to the ledger goes out under its `Idempotency-Key` as `syncs.idempotency` says,
so it is written once. The items are not checked again: an account archived since the claim is
Codat's to refuse, and the expense then fails with Codat's words like any refusal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from codat import (
    CodatClient,
    CodatError,
    CodatGoneError,
    CodatIdempotencyConflictError,
    CodatIdempotentServerError,
    CodatRateLimitedError,
    CodatUnavailableError,
    CodatValidationError,
    Exchange,
    ExpensesApi,
    ExpenseTransaction,
    PlannedBatch,
    Submission,
)
from codat.expenses_api import sent_under_key
from companies.models import Company
from expenses.ledger import expense_to_transaction
from expenses.models import Expense, ExpenseStatus
from expenses.services import ExpenseRefused, expenses_bulk_transition
from expenses.validation import CompanyContext, company_context
from gateway.apis import expenses_api_for, one_sync_per_batch
from gateway.call_slots import CallSlotsBusy, codat_call_slot, codat_spare_call_slots
from gateway.exchanges import codat_client, codat_exchanges_observe, codat_threads_allowed
from syncs.claim import Claim, company_push_claim, expenses_with_lines
from syncs.idempotency import (
    batch_key_ready,
    batch_key_settle,
    batch_lost_adopt,
    batch_put_turned_away,
)
from syncs.initiate import (
    TURNED_AWAY,
    batch_record_started,
    gone_in_words,
    sync_close_empty,
    sync_initiate,
    sync_refused_by_codat,
)
from syncs.models import BatchState, PushBatch, PushBatchItem, Sync, SyncState
from syncs.services import batches_move
from syncs.side_by_side import SideBySide

logger = logging.getLogger(__name__)

# A batch with the JSON of its items, as it goes out.
Outgoing = tuple[PushBatch, list[dict[str, Any]]]


def sync_send(*, sync: Sync, max_batches: int | None = None, lanes: int = 1) -> Sync:
    """Send the sync's pending batches, then start (or adopt) its sync. Safe to repeat.

    With `max_batches`, at most that many batches are sent and the sync stays initiating while
    some are pending: the task sends the rest in a later run, so one company's large push
    takes turns with other companies' work instead of holding a worker.

    With `lanes` above one (the caller holds that many of the company's call slots), the
    batches are shared out between as many threads (`BatchSender`).

    Where each batch starts a sync of its own (`ExpensesApi.one_sync_per_batch`), sending the
    sync's batch starts it. Otherwise, once the claim is complete and every batch sent, one
    sync is started for all the datasets (`sync_initiate`).

    Transient Codat failures (5xx, 429, timeouts) propagate so the task retries later; refusals
    are recorded on the expenses with Codat's words. A call Codat answers as switched off for
    good (410: v1 retired) ends the sync unstarted and approves its expenses again, naming the
    cut-over (`gone_in_words`): nothing of it was written.
    """
    try:
        return _sync_send(sync, max_batches, lanes)
    except CodatGoneError as gone:
        return sync_refused_by_codat(sync, reason=gone_in_words(sync, gone))


def _sync_send(sync: Sync, max_batches: int | None, lanes: int) -> Sync:
    company = sync.company
    client = codat_client(company_id=company.pk)
    api = expenses_api_for(company, client, generation=sync.expenses_api)
    ctx = company_context(company=company, api=sync.expenses_api)
    pending = sync.batches.filter(state=BatchState.PENDING).order_by("created_at")
    outgoing = _outgoing(list(pending[:max_batches] if max_batches else pending), ctx)
    # Lanes send datasets, which write nothing; a batch that writes goes out on its own turn.
    if lanes > 1 and len(outgoing) > 1 and codat_threads_allowed() and not api.one_sync_per_batch:
        sender = BatchSender(company, sync.expenses_api, lanes=min(lanes, len(outgoing)))
        sender.send(outgoing)
        failure = sender.close()
        if failure is not None:
            raise failure
    else:
        for batch, items in outgoing:
            _send_one(api, batch, items)
    sync.refresh_from_db()
    if sync.state != SyncState.INITIATING:
        return sync  # started by sending its batch
    if sync.batches.filter(state=BatchState.PENDING).exists():
        return sync  # more to send on the next turn
    if sync.claiming:
        return sync  # the claim goes on (or is resumed): started once it is complete
    dataset_ids = [
        str(d)
        for d in sync.batches.filter(state=BatchState.POSTED).values_list("dataset_id", flat=True)
    ]
    if api.one_sync_per_batch or not dataset_ids:
        return sync_close_empty(sync)  # every batch was refused: nothing went out
    return sync_initiate(sync, api, dataset_ids)


@contextmanager
def _turn_lanes(company_id: int, holder: str, *, lanes: bool = True) -> Iterator[int]:
    """Hold one of the company's call slots and, with `lanes`, as many spare ones as a turn's
    `PUSH_BATCHES_PER_TURN` batches can use side by side (one always left free); yields how
    many lanes that makes. `CallSlotsBusy` when every slot is taken. Without `lanes` (each
    batch starts a sync of its own, and goes out on a turn of its own) a spare slot would only
    keep the company's polls waiting, and be held past a crash until its lease ends."""
    up_to = settings.PUSH_BATCHES_PER_TURN - 1 if lanes else 0
    with (
        codat_call_slot(company_id, holder=holder),
        codat_spare_call_slots(company_id, holder=holder, up_to=up_to) as spare,
    ):
        yield 1 + spare


def sync_send_turn(*, sync: Sync, holder: str) -> Sync:
    """One sending turn of a push: up to `PUSH_BATCHES_PER_TURN` batches sent side by side,
    one lane per call slot held, then the sync started once all are sent. Raises
    `CallSlotsBusy` when every slot is taken; transient Codat failures propagate."""
    lanes = not one_sync_per_batch(sync.company, sync.expenses_api)
    with _turn_lanes(sync.company_id, holder, lanes=lanes) as held:
        return sync_send(sync=sync, max_batches=settings.PUSH_BATCHES_PER_TURN, lanes=held)


def _outgoing(batches: Sequence[PushBatch], ctx: CompanyContext) -> list[Outgoing]:
    """The batches with their items; a batch with none left is abandoned."""
    outgoing = []
    for batch in batches:
        items = _batch_items(batch, ctx)
        if items:
            outgoing.append((batch, items))
        else:
            _abandon(batch, reason="")
    return outgoing


def _planned(batch: PushBatch, items: list[dict[str, Any]]) -> PlannedBatch:
    # A v1 dataset carries no key: its id stands in, and v1 sends none.
    return PlannedBatch(
        key=str(batch.idempotency_key or batch.pk), items=tuple(items), endpoint=batch.endpoint
    )


def _send_one(api: ExpensesApi, batch: PushBatch, items: list[dict[str, Any]]) -> None:
    """Send one batch; a batch whose sending writes goes under its key (`syncs.idempotency`)."""
    keyed = batch.idempotency_key is not None
    if keyed and not batch_key_ready(api, batch, items):
        return
    try:
        sent = api.send(str(batch.company.codat_company_id), _planned(batch, items))
    except CodatValidationError as refused:
        _fail_batch(batch, refused)
        return
    except CodatIdempotentServerError as unknown:
        # The outcome is unknown, and Codat answers the key the same way for 90 minutes.
        if not batch_key_settle(api, batch, items, why=str(unknown)):
            raise  # a transient failure: the next turn, under the new key, comes after a wait
        return
    except (CodatUnavailableError, CodatRateLimitedError) as unknown:
        # Under a key Codat answers, the next turn sends it again under the same key.
        if not keyed or sent_under_key(batch.endpoint) or not _put_lost(api, batch, items, unknown):
            raise
        return
    except CodatIdempotencyConflictError as conflict:
        logger.error(
            "Batch %s was sent under a key Codat holds for another body: %s",
            batch.pk,
            conflict,
            extra={"company_id": batch.company_id, "sync_id": batch.sync_id},
        )
        batch_key_settle(api, batch, items, why=str(conflict))
        return
    _record_sent([(batch, sent, items)])


def _put_lost(
    api: ExpensesApi, batch: PushBatch, items: list[dict[str, Any]], failure: CodatError
) -> bool:
    """A PUT (a transfer) whose answer is lost: adopted if Codat lists its sync already (True);
    else the next turn looks again before any resend (`syncs.idempotency`)."""
    batch_put_turned_away(batch, failure.status)
    return failure.status not in TURNED_AWAY and batch_lost_adopt(
        api, batch, items, why=str(failure)
    )


def company_push(*, company: Company, lanes: int = 1) -> Claim:
    """Claim the company's approved expenses (`company_push_claim`) and send each committed
    slice's batches from up to `lanes` threads (the caller holds that many of the company's
    call slots) while this thread claims the next slice: the first batches are on the wire
    moments after the push starts instead of after the whole claim.

    The lanes only talk HTTP; this thread records their answers between slices. A lane that
    fails stops sending (the failure is logged): what it did not send stays pending for
    `sync_send`, which also starts the sync once every batch is sent.
    """
    if lanes < 2 or not codat_threads_allowed() or one_sync_per_batch(company):
        # The batches go out from the sending turns: one by one with one call slot, each
        # exchange recorded the moment it ends (a lane's are recorded between slices); a
        # turn per sync where each batch starts a sync of its own, which the turn follows.
        return company_push_claim(company=company)
    sender = BatchSender(company, company.expenses_api, lanes=lanes)
    # Slices side by side need a connection per thread and row locks that can be shared.
    claimers = settings.PUSH_CLAIMERS if connection.vendor == "postgresql" else 1

    def send_claimed(batches: list[PushBatch]) -> None:
        # Freshly claimed: every item is pushing, exactly as planned. A batch of another
        # generation (the company was switched as the claim began) waits for its sending turn.
        sender.send(
            [
                (batch, batch.payload)
                for batch in batches
                if batch.payload and batch.expenses_api == sender.generation
            ]
        )

    try:
        claim = company_push_claim(company=company, on_batches=send_claimed, claimers=claimers)
    finally:
        failure = sender.close()
    if failure is not None:
        logger.warning(
            "Sending batches while claiming the push of company %s stopped: %s; the rest is "
            "sent by the next turn",
            company.pk,
            failure,
        )
    return claim


def company_push_turn(*, company: Company, holder: str) -> Claim:
    """The first turn of a push: claim the company's approved expenses, sending the claimed
    batches meanwhile on the company's free call slots (`company_push`). With every slot
    taken, only claim: the sending turns (`sync_send_turn`) send them."""
    try:
        with _turn_lanes(company.pk, holder, lanes=not one_sync_per_batch(company)) as lanes:
            return company_push(company=company, lanes=lanes)
    except CallSlotsBusy:
        return company_push_claim(company=company)


class BatchSender:
    """Batches sent by `lanes` threads that only talk HTTP, each with a client of its own,
    while the caller's thread works the database.

    The answers (and the exchanges, for support) are recorded by the caller's thread: each time
    more batches are handed over, and on `close`.
    """

    def __init__(self, company: Company, generation: str, *, lanes: int) -> None:
        self.company = company
        # The generation the batches handed over were written through.
        self.generation = generation
        self.codat_company = str(company.codat_company_id)
        self.exchanges: list[Exchange] = []
        self.observed = 0
        self.answers: list[tuple[PushBatch, list[dict[str, Any]], Submission | CodatError]] = []
        self.answered = threading.Lock()
        self.local = threading.local()
        self.clients: list[CodatClient] = []
        self.lanes = SideBySide(self._send, threads=lanes, name="push-lane")

    def send(self, outgoing: list[Outgoing]) -> None:
        for work in outgoing:
            if not self.lanes.put(work):
                break  # a lane failed: the rest stays pending for the next turn
        self._record()

    def close(self) -> BaseException | None:
        """Wait for the lanes to send what was handed over, record it all; the first failure."""
        failure = self.lanes.close()
        for client in self.clients:
            client.close()
        self._record()
        return failure

    def _api(self) -> ExpensesApi:
        api: ExpensesApi | None = getattr(self.local, "api", None)
        if api is None:
            client = codat_client(company_id=self.company.pk, keep_exchanges=self.exchanges)
            with self.answered:
                self.clients.append(client)
            api = self.local.api = expenses_api_for(self.company, client, self.generation)
        return api

    def _send(self, work: Outgoing) -> None:
        batch, items = work
        try:
            answer: Submission | CodatError = self._api().send(
                self.codat_company, _planned(batch, items)
            )
        except CodatValidationError as refused:
            answer = refused
        with self.answered:
            self.answers.append((batch, items, answer))

    def _record(self) -> None:
        with self.answered:
            answers, self.answers = self.answers, []
        with transaction.atomic():
            # Lanes only ever append: what is past `observed` is new.
            seen, self.observed = self.observed, len(self.exchanges)
            codat_exchanges_observe(
                company_id=self.company.pk, exchanges=self.exchanges[seen : self.observed]
            )
            sent = []
            for batch, items, answer in answers:
                if isinstance(answer, CodatError):
                    _fail_batch(batch, answer)
                else:
                    sent.append((batch, answer, items))
            _record_sent(sent)


def _record_sent(sent: list[tuple[PushBatch, Submission, list[dict[str, Any]]]]) -> None:
    """Each batch sent, with what Codat holds of it: its dataset (one statement for them all),
    or the sync it started."""
    if not sent:
        return
    datasets = [(batch, sub.dataset_ids[0]) for batch, sub, _ in sent if sub.dataset_ids]
    if datasets:
        _record_datasets(datasets)
    for batch, submission, items in sent:
        if submission.sync_id is not None and not submission.dataset_ids:
            batch_record_started(batch, submission.sync_id)
        logger.info(
            "Batch %s of push %s posted with %s expenses (%s)",
            batch.pk,
            batch.sync_id,
            len(items),
            f"dataset {submission.dataset_ids[0]}"
            if submission.dataset_ids
            else f"sync {submission.sync_id}",
            extra={
                "company_id": batch.company_id,
                "sync_id": batch.sync_id,
                "expense_ids": [item["id"] for item in items],
            },
        )


def _record_datasets(posted: list[tuple[PushBatch, str]]) -> None:
    # One statement, no transaction of its own: the lanes' answers are recorded together.
    dataset_ids = [When(pk=batch.pk, then=Value(dataset_id)) for batch, dataset_id in posted]
    batches_move(
        PushBatch.objects.filter(pk__in=[batch.pk for batch, _ in posted]),
        state=BatchState.POSTED,
        current=BatchState.PENDING,
        dataset_id=Case(*dataset_ids, output_field=PushBatch._meta.get_field("dataset_id")),
        posted_at=timezone.now(),
        attempts=F("attempts") + 1,
    )


def _batch_items(batch: PushBatch, ctx: CompanyContext) -> list[dict[str, Any]]:
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


def _batch_transactions(batch: PushBatch, ctx: CompanyContext) -> list[ExpenseTransaction]:
    """A batch planned before its items were kept: built from its expenses now."""
    ids = list(batch.items.values_list("expense_id", flat=True))
    transactions = []
    for expense in expenses_with_lines(ids):
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


@transaction.atomic
def _abandon(batch: PushBatch, *, reason: str) -> None:
    batches_move(
        PushBatch.objects.filter(pk=batch.pk), state=BatchState.ABANDONED, last_error=reason
    )


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
