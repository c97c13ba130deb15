"""The seam between the push pipeline and the generation of Codat's expenses API.

The pipeline depends on `ExpensesApi`. In v1 a submission is two calls: store the transactions
as a dataset, then start a sync for it (`V1ExpensesApi`). In Codat's newer "Expenses" API one
call stores the batch and starts its sync, returning the `syncId` (`ExpensesApiV2`); that call
writes to the ledger, so it carries an idempotency key the caller recorded before sending.

Both generations read syncs the same way, so both find a submission whose answer was lost the
same way: by the batch's transaction ids in the company's recent syncs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from codat.client import CodatClient
from codat.types import ExpenseTransaction, ExpenseTransactionV2, SyncStatus

# The largest page Codat serves of a sync's transactions: one page covers any batch.
_TRANSACTIONS_PAGE_SIZE = 5000


@dataclass(frozen=True)
class Submission:
    """A batch handed to Codat: the sync that will write it and, in v1, its dataset(s)."""

    sync_id: str
    dataset_ids: tuple[str, ...] = ()


DatasetCreated = Callable[[str], None]
# A planned item: the generation's dataclass, or the JSON its `to_api()` made when the batch
# was planned (sent as it is, so a resend carries the same body).
PlannedItem = ExpenseTransaction | ExpenseTransactionV2 | Mapping[str, Any]


class ExpensesApi(Protocol):
    def submit(
        self,
        company_id: str,
        transactions: Sequence[PlannedItem],
        *,
        on_dataset_created: DatasetCreated | None = None,
        idempotency_key: str | uuid.UUID | None = None,
    ) -> Submission:
        """Send one batch (1 to 50 transactions) and start writing it to the ledger.

        `on_dataset_created` is called with the dataset id as soon as Codat holds the batch and
        before the sync starts, so the caller can record it durably; an API without datasets
        never calls it. `idempotency_key`, recorded by the caller before the call, is required
        by an API whose submission writes to the ledger in one call (v1 does not use it).
        """
        ...

    def find_lost_submission(
        self,
        company_id: str,
        transaction_ids: Collection[str],
        *,
        since: datetime,
        known_sync_ids: Collection[str] = (),
    ) -> Submission | None:
        """The sync of a batch sent at or after `since` whose answer never arrived, if any."""
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


class _FindsLostSubmissions:
    _client: CodatClient

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


class V1ExpensesApi(_FindsLostSubmissions):
    """Sync for Expenses v1: create-expense-dataset, then initiate-sync.

    The two steps are also public because the pipeline records the dataset id locally before
    initiating the sync: a crash between them is then resumed rather than pushed twice.
    """

    def __init__(self, client: CodatClient) -> None:
        self._client = client

    def create_dataset(
        self, company_id: str, transactions: Sequence[ExpenseTransaction | Mapping[str, Any]]
    ) -> str:
        return self._client.create_expense_dataset(company_id, transactions)

    def initiate_sync(self, company_id: str, dataset_ids: Sequence[str]) -> str:
        return self._client.initiate_sync(company_id, dataset_ids)

    def submit(
        self,
        company_id: str,
        transactions: Sequence[PlannedItem],
        *,
        on_dataset_created: DatasetCreated | None = None,
        idempotency_key: str | uuid.UUID | None = None,
    ) -> Submission:
        # A v1 dataset writes nothing until initiated, so a repeat is harmless without a key.
        if any(isinstance(item, ExpenseTransactionV2) for item in transactions):
            raise TypeError("v1 takes ExpenseTransaction items, not ExpenseTransactionV2")
        dataset_id = self.create_dataset(
            company_id,
            [item for item in transactions if not isinstance(item, ExpenseTransactionV2)],
        )
        if on_dataset_created is not None:
            on_dataset_created(dataset_id)
        return self.resume(company_id, [dataset_id])

    def resume(self, company_id: str, dataset_ids: Sequence[str]) -> Submission:
        """Start the sync for datasets recorded by an earlier `submit` that stopped short. Only
        v1 has datasets: the newer API's `submit` is resent with the same idempotency key."""
        sync_id = self.initiate_sync(company_id, dataset_ids)
        return Submission(sync_id=sync_id, dataset_ids=tuple(dataset_ids))


class ExpensesApiV2(_FindsLostSubmissions):
    """Codat's newer "Expenses" API: one create-expense-transaction call per batch.

    `submit` needs the batch's idempotency key. After a timeout, a broken connection or a 409
    (`CodatIdempotencyInFlightError`), send the same batch again with the same key: Codat
    replays the first answer. After a 5xx (`CodatIdempotentServerError`) or once the key's
    90 minutes are over, look for the sync with `find_lost_submission` before sending the
    batch again under a new key.
    """

    def __init__(self, client: CodatClient) -> None:
        self._client = client

    def submit(
        self,
        company_id: str,
        transactions: Sequence[PlannedItem],
        *,
        on_dataset_created: DatasetCreated | None = None,
        idempotency_key: str | uuid.UUID | None = None,
    ) -> Submission:
        if idempotency_key is None:
            raise ValueError(
                "a submission to Codat's Expenses API writes to the ledger: record an "
                "idempotency key for the batch and pass it"
            )
        if any(isinstance(item, ExpenseTransaction) for item in transactions):
            raise TypeError("the Expenses API takes ExpenseTransactionV2 items, not v1's")
        started = self._client.create_expense_transactions(
            company_id,
            [item for item in transactions if not isinstance(item, ExpenseTransaction)],
            idempotency_key=idempotency_key,
        )
        return Submission(sync_id=started.sync_id)
