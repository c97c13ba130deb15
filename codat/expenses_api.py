"""The seam between the push pipeline and the generation of Codat's expenses API.

The pipeline depends on `ExpensesApi`. In v1 a submission is two calls: store the transactions
as a dataset, then start a sync for it. Codat's newer API does both in one call that returns the
`syncId`; an implementation of this protocol for it can be added without touching the services.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from codat.client import CodatClient
from codat.types import ExpenseTransaction


@dataclass(frozen=True)
class Submission:
    """A batch handed to Codat: the sync that will write it and, in v1, its dataset(s)."""

    sync_id: str
    dataset_ids: tuple[str, ...] = ()


DatasetCreated = Callable[[str], None]


class ExpensesApi(Protocol):
    def submit(
        self,
        company_id: str,
        transactions: Sequence[ExpenseTransaction],
        *,
        on_dataset_created: DatasetCreated | None = None,
    ) -> Submission:
        """Send one batch (1 to 50 transactions) and start writing it to the ledger.

        `on_dataset_created` is called with the dataset id as soon as Codat holds the batch and
        before the sync starts, so the caller can record it durably; an API without datasets
        never calls it.
        """
        ...

    def resume(self, company_id: str, dataset_ids: Sequence[str]) -> Submission:
        """Start the sync for datasets recorded by an earlier `submit` that stopped short."""
        ...


class V1ExpensesApi:
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
        transactions: Sequence[ExpenseTransaction],
        *,
        on_dataset_created: DatasetCreated | None = None,
    ) -> Submission:
        dataset_id = self.create_dataset(company_id, transactions)
        if on_dataset_created is not None:
            on_dataset_created(dataset_id)
        return self.resume(company_id, [dataset_id])

    def resume(self, company_id: str, dataset_ids: Sequence[str]) -> Submission:
        sync_id = self.initiate_sync(company_id, dataset_ids)
        return Submission(sync_id=sync_id, dataset_ids=tuple(dataset_ids))
