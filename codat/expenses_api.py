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
twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from codat.client import CodatClient
from codat.types import (
    ExpenseTransaction,
    ExpenseTransactionV2,
    ExpenseUpdate,
    ExpenseUpdateV2,
    SyncStatus,
)

# The largest page Codat serves of a sync's transactions: one page covers any batch.
_TRANSACTIONS_PAGE_SIZE = 5000

EXPENSE_TRANSACTIONS = "expense-transactions"

# A planned item: the generation's dataclass, or the JSON its `to_api()` made when the batch
# was planned (sent as it is, so a resend carries the same body).
PlannedItem = ExpenseTransaction | ExpenseTransactionV2 | Mapping[str, Any]


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

    def update(
        self, company_id: str, transaction_id: str, update: ExpenseUpdate | ExpenseUpdateV2
    ) -> str:
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
        if any(isinstance(item, ExpenseTransactionV2) for item in batch.items):
            raise TypeError("v1 takes ExpenseTransaction items, not ExpenseTransactionV2")
        items = [item for item in batch.items if not isinstance(item, ExpenseTransactionV2)]
        return Submission(dataset_ids=(self._client.create_expense_dataset(company_id, items),))

    def start(self, company_id: str, dataset_ids: Sequence[str]) -> str:
        return self._client.initiate_sync(company_id, dataset_ids)

    def update(
        self, company_id: str, transaction_id: str, update: ExpenseUpdate | ExpenseUpdateV2
    ) -> str:
        if not isinstance(update, ExpenseUpdate):
            raise TypeError("v1 takes an ExpenseUpdate, not an ExpenseUpdateV2")
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
    """Codat's newer "Expenses" API: one create-expense-transactions call per batch, which
    starts the batch's sync and writes to the ledger.

    `send` uses the batch's key as its Idempotency-Key. After a timeout, a broken connection or
    a 409 (`CodatIdempotencyInFlightError`), send the same batch again with the same key: Codat
    replays the first answer. After a 5xx (`CodatIdempotentServerError`) or once the key's 90
    minutes are over, look for the sync with `find_lost_submission` before sending the batch
    again under a new key. A lost submission is matched by its transaction ids, never by time
    alone: several batches of a company are in flight at once.
    """

    one_sync_per_batch: ClassVar[bool] = True

    def __init__(self, client: CodatClient) -> None:
        self._client = client

    def send(self, company_id: str, batch: PlannedBatch) -> Submission:
        if batch.endpoint != EXPENSE_TRANSACTIONS:
            raise ValueError(f"sending to {batch.endpoint} is not supported yet")
        if not batch.key:
            raise ValueError(
                "a submission to Codat's Expenses API writes to the ledger: record an "
                "idempotency key for the batch and pass it"
            )
        if any(isinstance(item, ExpenseTransaction) for item in batch.items):
            raise TypeError("the Expenses API takes ExpenseTransactionV2 items, not v1's")
        started = self._client.create_expense_transactions(
            company_id,
            [item for item in batch.items if not isinstance(item, ExpenseTransaction)],
            idempotency_key=batch.key,
        )
        return Submission(sync_id=started.sync_id)

    def start(self, company_id: str, dataset_ids: Sequence[str]) -> str:
        raise TypeError("the Expenses API starts a sync per batch as it is sent")

    def update(
        self, company_id: str, transaction_id: str, update: ExpenseUpdate | ExpenseUpdateV2
    ) -> str:
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
