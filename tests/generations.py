"""A generation of Codat's expenses API for tests of what drives it: each test's subclass
answers the calls it expects, and any other call fails the test."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import ClassVar

from codat import CodatClient, PlannedBatch, Submission


class StubGeneration:
    """An `ExpensesApi` built over a client it ignores."""

    one_sync_per_batch: ClassVar[bool] = True

    def __init__(self, client: CodatClient) -> None:
        self.client = client

    def send(self, company_id: str, batch: PlannedBatch) -> Submission:
        raise AssertionError("no batch is sent in this test")

    def start(self, company_id: str, dataset_ids: Sequence[str]) -> str:
        raise AssertionError("each batch started its own sync: there is nothing to start")

    def update(self, company_id: str, transaction_id: str, update: object) -> str:
        raise AssertionError("no correction is sent in this test")

    def find_lost_submission(
        self,
        company_id: str,
        transaction_ids: Collection[str],
        *,
        since: datetime,
        known_sync_ids: Collection[str] = (),
    ) -> Submission | None:
        raise AssertionError("no lost submission is looked for in this test")
