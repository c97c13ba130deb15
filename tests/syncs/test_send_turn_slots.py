"""The Codat call slots a push's tasks hold. A sending turn holds the company's spare slots only
where its batches go out side by side (v1's datasets). A batch of the newer generation goes out
on a turn of its own: a spare slot would only keep the company's polls waiting, and a worker
killed holding it would keep them waiting until its lease ends. A poll of a sync that has
ended (its webhook's poll settled it first) takes no slot at all."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from companies.models import Company
from companies.platforms import ApiGeneration
from expenses.models import ExpenseStatus
from gateway.models import CodatCallSlot
from syncs.claim import company_push_claim
from syncs.models import Sync, SyncState
from syncs.send import sync_send_turn
from tests.factories import SyncFactory
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("generation", "held"), [(ApiGeneration.V1, 3), (ApiGeneration.EXPENSES, 1)]
)
def test_a_sending_turn_holds_spare_slots_only_where_its_batches_use_them(
    settings, monkeypatch, generation, held
):
    settings.CODAT_MAX_CALLS_PER_COMPANY = 4
    settings.PUSH_BATCHES_PER_TURN = 12
    books = pushable_company()
    Company.objects.filter(pk=books.company.pk).update(expenses_api=generation)
    books.company.expenses_api = generation
    for _ in range(60):
        coded_expense(books, status=ExpenseStatus.APPROVED)
    sync = company_push_claim(company=books.company).syncs[0]
    during: list[tuple[int, int]] = []

    def send(*, sync: Sync, max_batches: int, lanes: int) -> Any:
        during.append((lanes, CodatCallSlot.objects.filter(company=books.company).count()))
        return sync

    monkeypatch.setattr("syncs.send.sync_send", send)

    sync_send_turn(sync=sync, holder="turn")

    # v1: its slot and two spare ones (one left free for the company's polls).
    assert during == [(held, held)]
    assert not CodatCallSlot.objects.exists()


def test_a_poll_of_a_sync_that_has_ended_takes_no_slot(monkeypatch):
    from syncs import tasks

    sync = SyncFactory(state=SyncState.SUCCEEDED, codat_sync_id=uuid.uuid4())

    def no_slot(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a call slot was taken")

    monkeypatch.setattr(tasks, "codat_call_slot", no_slot)

    tasks.poll_sync(sync.pk)

    assert Sync.objects.get(pk=sync.pk).poll_count == 0
