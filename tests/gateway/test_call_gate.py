"""Taking a company's slots is ordered by the company's call gate: a second worker counts the
slots only once the first has committed the one it took, so the limit holds across workers,
for the company's first slot (the gate is made then) as for any later one."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from gateway.call_slots import CallSlotsBusy, call_slot_acquire, call_slot_release
from gateway.models import CodatCallSlot
from tests.factories import CompanyFactory

# Other threads only see what is committed: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("gate", ["made by this take", "made before"])
def test_a_second_worker_waits_for_the_first_and_finds_the_last_slot_taken(settings, gate):
    settings.CODAT_MAX_CALLS_PER_COMPANY = 1
    company = CompanyFactory()
    if gate == "made before":
        call_slot_release(call_slot_acquire(company_id=company.pk, holder="earlier"))
    first_holds, first_may_commit, second_done = (threading.Event() for _ in range(3))
    outcome: list[str] = []

    def first() -> None:
        try:
            with transaction.atomic():
                call_slot_acquire(company_id=company.pk, holder="first")
                first_holds.set()
                first_may_commit.wait(timeout=30)
        finally:
            connection.close()

    def second() -> None:
        first_holds.wait(timeout=30)
        try:
            call_slot_acquire(company_id=company.pk, holder="second")
            outcome.append("took a slot")
        except CallSlotsBusy:
            outcome.append("busy")
        finally:
            second_done.set()
            connection.close()

    workers = [threading.Thread(target=first), threading.Thread(target=second)]
    for worker in workers:
        worker.start()
    assert first_holds.wait(timeout=30)

    try:
        # While the first has not committed, the second waits instead of counting ...
        assert not second_done.wait(timeout=1)
    finally:
        first_may_commit.set()
        for worker in workers:
            worker.join(timeout=30)

    # ... and then counts the first's slot.
    assert outcome == ["busy"]
    assert list(CodatCallSlot.objects.values_list("holder", flat=True)) == ["first"]
