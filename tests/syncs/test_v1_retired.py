"""A v1 call Codat answers as a retired API does (410 Gone) ends the push in words that name the
cut-over: its sync ends unstarted, its batches are abandoned and its expenses are approved again
(nothing was written), and `sync_now --wait` says the same. Driven with a scripted v1 generation
standing in for Codat after it switched v1 off."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest

from codat import CodatGoneError, PlannedBatch, Submission
from companies.platforms import ApiGeneration
from expenses.models import Expense, ExpenseEvent, ExpenseStatus
from gateway.apis import GENERATIONS
from syncs.claim import company_push_claim
from syncs.models import BatchState, Sync, SyncState
from syncs.push_now import company_push_now
from syncs.send import sync_send
from tests.generations import StubGeneration
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db

RETIRED = (
    "Sync for Expenses v1 was retired on 2027-05-01: create-expense-dataset is no longer "
    "available. Use the Expenses API instead."
)


def _gone() -> CodatGoneError:
    return CodatGoneError(RETIRED, status=410, service="ExpenseSyncApi", can_be_retried="No")


class RetiredV1(StubGeneration):
    """v1 once Codat switched it off: each dataset post (or, with `datasets_taken`, each
    initiate) answers 410."""

    one_sync_per_batch: ClassVar[bool] = False
    datasets_taken: ClassVar[bool] = False
    sent: ClassVar[int] = 0

    def send(self, company_id: str, batch: PlannedBatch) -> Submission:
        RetiredV1.sent += 1
        if not self.datasets_taken:
            raise _gone()
        return Submission(dataset_ids=(f"00000000-0000-0000-0000-{RetiredV1.sent:012d}",))

    def start(self, company_id: str, dataset_ids: Sequence[str]) -> str:
        raise _gone()


@pytest.fixture
def retired_v1(monkeypatch: pytest.MonkeyPatch) -> type[RetiredV1]:
    RetiredV1.datasets_taken, RetiredV1.sent = False, 0
    monkeypatch.setitem(GENERATIONS, ApiGeneration.V1, RetiredV1)
    return RetiredV1


@pytest.fixture
def books():
    books = pushable_company(name="Harbour Coffee Ltd")
    for _ in range(60):
        coded_expense(books, status=ExpenseStatus.APPROVED)
    return books


def _ended_naming_the_cut_over(sync: Sync) -> None:
    sync.refresh_from_db()
    assert sync.state == SyncState.FAILED
    assert sync.codat_sync_id is None
    assert sync.error_message.startswith(
        f"Codat switched Sync for Expenses v1 off (Codat: {RETIRED}): move Harbour Coffee Ltd to "
        "the newer Expenses API (Companies → Harbour Coffee Ltd → Settings → “Move to the newer "
        f"Expenses API”, or manage.py expenses_api --company {sync.company_id} --to expenses)."
    )
    assert set(sync.batches.values_list("state", flat=True)) == {BatchState.ABANDONED}
    expenses = Expense.objects.filter(company_id=sync.company_id)
    assert set(expenses.values_list("status", flat=True)) == {ExpenseStatus.APPROVED}
    last = ExpenseEvent.objects.filter(expense=expenses.first()).latest("pk")
    assert (last.from_status, last.to_status) == (ExpenseStatus.PUSHING, ExpenseStatus.APPROVED)
    assert "move Harbour Coffee Ltd to the newer Expenses API" in last.message


def test_a_dataset_codat_answers_as_retired_ends_the_push_naming_the_cut_over(retired_v1, books):
    sync = company_push_claim(company=books.company).sync
    assert sync is not None

    sync_send(sync=sync)

    _ended_naming_the_cut_over(sync)
    # The first 410 stops the push: no other dataset is posted after it.
    assert retired_v1.sent == 1


def test_an_initiate_codat_answers_as_retired_ends_the_push_naming_the_cut_over(retired_v1, books):
    retired_v1.datasets_taken = True
    sync = company_push_claim(company=books.company).sync
    assert sync is not None

    sync_send(sync=sync)

    _ended_naming_the_cut_over(sync)


def test_sync_now_reports_the_cut_over_as_what_stopped_the_push(retired_v1, books):
    report = company_push_now(company=books.company, clock=lambda: 0.0, sleep=lambda _: None)

    assert not report.complete
    assert report.not_pushed == 60
    assert report.problem.startswith("Codat switched Sync for Expenses v1 off")
    assert "manage.py expenses_api --company" in report.line()
