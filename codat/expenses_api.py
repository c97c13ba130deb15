"""The seam between the push pipeline and the generation of Codat's expenses API.

The pipeline hands each batch over as a `PlannedBatch`: the items' JSON as planned when the
batch was written, and the key recorded with it, both frozen before any call. What Codat answers
depends on the generation:

- v1 (`V1ExpensesApi`) keeps a batch as a dataset and writes nothing until one initiate-sync
  starts a sync for all of a push's datasets: `send` answers the dataset id, `start` the sync.
- Codat's newer "Expenses" API (`ExpensesApiV2`) stores a batch and starts its sync in one call
  that writes to the ledger: `send` answers the sync id (`one_sync_per_batch`), under the
  batch's idempotency key.

Both generations read syncs the same way. `find_lost_submission` finds the sync of a batch (or
of a push's datasets) whose answer never arrived, so the pipeline adopts it instead of writing
twice; `find_syncs_completing` finds the syncs that wrote transactions Codat's duplicate
protection says were written before.

A batch of the newer generation goes to one endpoint: its expenses to create-expense-transactions
(a POST of 1 to 50, under the batch's Idempotency-Key), or one transfer to
create-transfer-transaction (a PUT by transaction id). Codat keeps answers under a key for POSTs
only (`sent_under_key`): a PUT whose answer was lost is found by its transaction id before it
is ever sent again.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from codat.client import CodatClient
from codat.types import (
    ExpenseTransaction,
    ExpenseTransactionV2,
    ExpenseUpdate,
    ExpenseUpdateV2,
    SyncStatus,
    TransactionMetadata,
    TransferTransaction,
)

_NO_TIME = datetime.min.replace(tzinfo=UTC)

# The largest page Codat serves of a sync's transactions: one page covers any batch.
_TRANSACTIONS_PAGE_SIZE = 5000

# The newer generation's write endpoints (a batch is sent to one of them).
EXPENSE_TRANSACTIONS = "expense-transactions"
TRANSFER_TRANSACTIONS = "transfer-transactions"
ADJUSTMENT_TRANSACTIONS = "adjustment-transactions"
REIMBURSABLE_EXPENSE_TRANSACTIONS = "reimbursable-expense-transactions"

# The endpoints written by a POST, whose first answer Codat keeps under the Idempotency-Key for
# 90 minutes. create-transfer-transaction is a PUT: nothing is kept under a key for it.
_KEYED_ENDPOINTS = frozenset(
    {EXPENSE_TRANSACTIONS, ADJUSTMENT_TRANSACTIONS, REIMBURSABLE_EXPENSE_TRANSACTIONS}
)


def sent_under_key(endpoint: str) -> bool:
    """Whether a send to `endpoint` is answered under its Idempotency-Key (a resend with the
    same key replays the first answer); False for a PUT, which must be found, never resent,
    when its answer is lost."""
    return endpoint in _KEYED_ENDPOINTS


# A planned item: the generation's dataclass, or the JSON its `to_api()` made when the batch
# was planned (sent as it is, so a resend carries the same body). A planned transfer's JSON
# also carries its `id`, which is sent in the path.
PlannedItem = ExpenseTransaction | ExpenseTransactionV2 | TransferTransaction | Mapping[str, Any]

# What a correction sends: v1's update, the newer generation's, or a transfer PUT again.
Update = ExpenseUpdate | ExpenseUpdateV2 | TransferTransaction


@dataclass(frozen=True)
class PlannedBatch:
    """One batch (1 to 50 items) as planned before any call: what is sent, where, and the key
    it is sent under (recorded with the batch, so a resend after a lost answer reuses it)."""

    key: str | uuid.UUID
    items: tuple[PlannedItem, ...]
    endpoint: str = EXPENSE_TRANSACTIONS

    def __post_init__(self) -> None:
        if not 1 <= len(self.items) <= 50:
            raise ValueError(f"a batch holds 1 to 50 items, not {len(self.items)}")


@dataclass(frozen=True)
class Submission:
    """What Codat holds of a batch: its dataset (v1, written once started) and/or the sync that
    writes it."""

    sync_id: str | None = None
    dataset_ids: tuple[str, ...] = ()


class ExpensesApi(Protocol):
    # True when each batch's `send` starts a sync of its own (one call writes it); False when
    # `start` starts one sync for the datasets of a whole push.
    one_sync_per_batch: ClassVar[bool]

    def send(self, company_id: str, batch: PlannedBatch) -> Submission:
        """Hand one batch to Codat. A refusal of the batch raises `CodatValidationError`."""
        ...

    def start(self, company_id: str, dataset_ids: Sequence[str]) -> str:
        """Start the sync that writes these sent datasets; its id. Only where
        `one_sync_per_batch` is False."""
        ...

    def update(self, company_id: str, transaction_id: str, update: Update) -> str:
        """Correct an expense already in the ledger; the id of the sync that rewrites it."""
        ...

    def find_lost_submission(
        self,
        company_id: str,
        transaction_ids: Collection[str],
        *,
        since: datetime,
        known_sync_ids: Collection[str] = (),
    ) -> Submission | None:
        """The sync of a submission of `transaction_ids` made at or after `since` whose answer
        never arrived, if Codat started one; syncs in `known_sync_ids` are already recorded."""
        ...


def find_sync_holding(
    client: CodatClient,
    company_id: str,
    transaction_ids: Collection[str],
    *,
    since: datetime,
    known_sync_ids: Collection[str] = (),
) -> SyncStatus | None:
    """The earliest sync started at or after `since` (aware) that holds every one of
    `transaction_ids`.

    Matched by transaction id, never by time alone: several batches of a company can be in
    flight at once, so "the first sync after we sent" may be another batch's. Every id must be
    there: an id that an older sync also held (a failed earlier attempt) cannot match a sync
    of another batch on its own. Syncs in `known_sync_ids` (already recorded by the caller)
    and syncs Codat gives no start time for are not considered.
    """
    wanted = set(transaction_ids)
    if not wanted:
        raise ValueError("find_sync_holding needs at least one transaction id")
    known = set(known_sync_ids)
    candidates = sorted(
        (
            (sync.sync_utc, sync.sync_id, sync)
            for sync in client.list_syncs(company_id)
            if sync.sync_id is not None
            and sync.sync_id not in known
            and sync.sync_utc is not None
            and sync.sync_utc >= since
        ),
        key=lambda candidate: candidate[:2],
    )
    for _, sync_id, sync in candidates:
        held = {
            item.transaction_id
            for item in client.iter_sync_transactions(
                company_id, sync_id, page_size=_TRANSACTIONS_PAGE_SIZE
            )
        }
        if wanted <= held:
            return sync
    return None


@dataclass(frozen=True)
class CompletedSync:
    """A sync of the company that completed some of the transactions looked for, with every
    transaction result it holds (as read while looking)."""

    status: SyncStatus
    transactions: tuple[TransactionMetadata, ...]


def find_syncs_completing(
    client: CodatClient,
    company_id: str,
    transaction_ids: Collection[str],
    *,
    skip_sync_ids: Collection[str] = (),
    limit: int,
) -> dict[str, CompletedSync]:
    """For each of `transaction_ids` that a sync of the company completed, that sync: what
    Codat's duplicate protection (5080) means by "previously processed".

    The newest syncs are read first, at most `limit` of them, and the search ends once every id
    is found; syncs in `skip_sync_ids` (the caller knows what they hold) are not read. An id
    with no completed result in the syncs read is left out.
    """
    wanted = set(transaction_ids)
    skip = set(skip_sync_ids)
    candidates = sorted(
        (
            sync
            for sync in client.list_syncs(company_id)
            if sync.sync_id is not None and sync.sync_id not in skip
        ),
        # Newest first; a sync Codat gives no start time for is read last.
        key=lambda sync: (sync.sync_utc is not None, sync.sync_utc or _NO_TIME),
        reverse=True,
    )
    found: dict[str, CompletedSync] = {}
    for sync in candidates[:limit]:
        assert sync.sync_id is not None
        transactions = tuple(
            client.iter_sync_transactions(
                company_id, sync.sync_id, page_size=_TRANSACTIONS_PAGE_SIZE
            )
        )
        completed = CompletedSync(status=sync, transactions=transactions)
        for item in transactions:
            if item.transaction_id in wanted and item.status == "Completed":
                found.setdefault(item.transaction_id, completed)
        if wanted <= found.keys():
            break
    return found


class V1ExpensesApi:
    """Sync for Expenses v1: create-expense-dataset per batch, then one initiate-sync.

    A dataset writes nothing until initiated, so a batch sent twice is harmless and carries no
    key. A lost initiate answer is found as the earliest sync Codat started since the request
    that the caller does not know: a company's push is initiated by one worker at a time, and
    v1 may list a sync's transactions only once it runs, so matching them is not possible.
    """

    one_sync_per_batch: ClassVar[bool] = False

    def __init__(self, client: CodatClient) -> None:
        self._client = client

    def send(self, company_id: str, batch: PlannedBatch) -> Submission:
        if batch.endpoint != EXPENSE_TRANSACTIONS:
            raise ValueError(f"Sync for Expenses v1 has no {batch.endpoint} endpoint")
        if any(
            isinstance(item, ExpenseTransactionV2 | TransferTransaction) for item in batch.items
        ):
            raise TypeError("v1 takes ExpenseTransaction items")
        items = [
            item
            for item in batch.items
            if not isinstance(item, ExpenseTransactionV2 | TransferTransaction)
        ]
        return Submission(dataset_ids=(self._client.create_expense_dataset(company_id, items),))

    def start(self, company_id: str, dataset_ids: Sequence[str]) -> str:
        return self._client.initiate_sync(company_id, dataset_ids)

    def update(self, company_id: str, transaction_id: str, update: Update) -> str:
        if not isinstance(update, ExpenseUpdate):
            raise TypeError(f"v1 takes an ExpenseUpdate, not {type(update).__name__}")
        return self._client.update_expense(company_id, transaction_id, update)

    def find_lost_submission(
        self,
        company_id: str,
        transaction_ids: Collection[str],
        *,
        since: datetime,
        known_sync_ids: Collection[str] = (),
    ) -> Submission | None:
        known = set(known_sync_ids)
        started = sorted(
            (sync.sync_utc, sync.sync_id)
            for sync in self._client.list_syncs(company_id)
            if sync.sync_id is not None
            and sync.sync_id not in known
            and sync.sync_utc is not None
            and sync.sync_utc >= since
        )
        return Submission(sync_id=started[0][1]) if started else None


class ExpensesApiV2:
    """Codat's newer "Expenses" API: one call per batch, which starts the batch's sync and
    writes to the ledger: create-expense-transactions for expenses, create-transfer-transaction
    for one transfer.

    `send` uses the batch's key as its Idempotency-Key. After a timeout, a broken connection or
    a 409 (`CodatIdempotencyInFlightError`), send the same batch again with the same key: Codat
    replays the first answer. After a 5xx (`CodatIdempotentServerError`) or once the key's 90
    minutes are over, look for the sync with `find_lost_submission` before sending the batch
    again under a new key. A lost submission is matched by its transaction ids, never by time
    alone: several batches of a company are in flight at once.

    A transfer is a PUT by its transaction id, which carries no key (`sent_under_key`): a PUT
    whose outcome is unknown is looked for with `find_lost_submission` before any resend. On a
    platform that only creates transfers (Xero) a resend of one already written is refused; on
    one that updates them (QuickBooks Online) it writes the same values again.
    """

    one_sync_per_batch: ClassVar[bool] = True

    def __init__(self, client: CodatClient) -> None:
        self._client = client

    def send(self, company_id: str, batch: PlannedBatch) -> Submission:
        if batch.endpoint == TRANSFER_TRANSACTIONS:
            return self._send_transfer(company_id, batch)
        if batch.endpoint != EXPENSE_TRANSACTIONS:
            raise ValueError(f"sending to {batch.endpoint} is not supported yet")
        if not batch.key:
            raise ValueError(
                "a submission to Codat's Expenses API writes to the ledger: record an "
                "idempotency key for the batch and pass it"
            )
        if any(isinstance(item, ExpenseTransaction | TransferTransaction) for item in batch.items):
            raise TypeError("create-expense-transactions takes ExpenseTransactionV2 items")
        started = self._client.create_expense_transactions(
            company_id,
            [
                item
                for item in batch.items
                if not isinstance(item, ExpenseTransaction | TransferTransaction)
            ],
            idempotency_key=batch.key,
        )
        return Submission(sync_id=started.sync_id)

    def _send_transfer(self, company_id: str, batch: PlannedBatch) -> Submission:
        """One transfer, PUT by its transaction id (the batch's key is not sent: see
        `sent_under_key`)."""
        if len(batch.items) != 1:
            raise ValueError(f"a transfer is sent alone, not with {len(batch.items) - 1} more")
        [item] = batch.items
        if isinstance(item, ExpenseTransaction | ExpenseTransactionV2):
            raise TypeError("create-transfer-transaction takes a TransferTransaction")
        transaction_id = item.id if isinstance(item, TransferTransaction) else item.get("id")
        if not transaction_id:
            raise ValueError("a planned transfer needs its transaction id")
        started = self._client.create_or_update_transfer(company_id, str(transaction_id), item)
        return Submission(sync_id=started.sync_id)

    def start(self, company_id: str, dataset_ids: Sequence[str]) -> str:
        raise TypeError("the Expenses API starts a sync per batch as it is sent")

    def update(self, company_id: str, transaction_id: str, update: Update) -> str:
        if isinstance(update, TransferTransaction):
            # The same PUT that created the transfer updates it, where the platform allows it.
            return self._client.create_or_update_transfer(
                company_id, transaction_id, update
            ).sync_id
        if not isinstance(update, ExpenseUpdateV2):
            raise TypeError("the Expenses API takes an ExpenseUpdateV2, not v1's ExpenseUpdate")
        return self._client.update_expense_transaction(company_id, transaction_id, update).sync_id

    def find_lost_submission(
        self,
        company_id: str,
        transaction_ids: Collection[str],
        *,
        since: datetime,
        known_sync_ids: Collection[str] = (),
    ) -> Submission | None:
        sync = find_sync_holding(
            self._client, company_id, transaction_ids, since=since, known_sync_ids=known_sync_ids
        )
        if sync is None or sync.sync_id is None:
            return None
        return Submission(sync_id=sync.sync_id)
