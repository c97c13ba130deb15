"""At most `CODAT_MAX_CALLS_PER_COMPANY` Codat calls in flight per company, across every worker.

A task takes a slot before it talks to Codat for a company and gives it back when it is done; a
task that finds every slot taken is queued again a moment later instead of waiting on a worker,
so one busy company never holds the workers that other companies' work needs. Slots are rows with
a lease, so a worker killed while holding one blocks nothing for longer than the lease, and
nothing at all once it is restarted under the same name (`call_slots_release_of_worker`).

Taking slots counts the live ones and then inserts: every worker first locks the company's
`CodatCallGate` row, so the counts and inserts of two workers never interleave.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gateway.models import CodatCallGate, CodatCallSlot


class CallSlotsBusy(Exception):
    """Every slot of the company is held; try again in `retry_in` seconds."""

    def __init__(self, company_id: int, limit: int) -> None:
        super().__init__(
            f"Company {company_id} already has {limit} Codat calls in flight "
            "(CODAT_MAX_CALLS_PER_COMPANY); the work is queued again."
        )
        self.company_id = company_id
        self.retry_in = 2.0


def _call_gate_lock(company_id: int) -> None:
    """Lock the company's gate row until the transaction ends, making it the first time.

    A gate made by another worker is waited for, not duplicated: the insert ignores a conflict
    (on PostgreSQL it waits for the other transaction first) and the locking read that follows
    finds the row. On SQLite the transaction's write lock already orders the workers."""
    gate = CodatCallGate.objects.select_for_update().filter(company_id=company_id)
    if gate.values_list("pk").first() is None:
        CodatCallGate.objects.bulk_create(
            [CodatCallGate(company_id=company_id)], ignore_conflicts=True
        )
        gate.values_list("pk").first()


def _slots_take(
    *, company_id: int, holder: str, now: datetime, up_to: int, keep_free: int
) -> list[int]:
    """Take up to `up_to` of the company's slots while `keep_free` stay free; their ids."""
    limit = settings.CODAT_MAX_CALLS_PER_COMPANY
    with transaction.atomic():
        _call_gate_lock(company_id)
        live = CodatCallSlot.objects.filter(company_id=company_id, leased_until__gt=now).count()
        count = min(up_to, limit - live - keep_free)
        if count < 1:
            return []
        CodatCallSlot.objects.filter(company_id=company_id, leased_until__lte=now).delete()
        lease = now + timedelta(seconds=settings.CODAT_CALL_SLOT_LEASE_S)
        return [
            CodatCallSlot.objects.create(
                company_id=company_id, holder=holder[:200], acquired_at=now, leased_until=lease
            ).pk
            for _ in range(count)
        ]


def call_slot_acquire(*, company_id: int, holder: str, now: datetime | None = None) -> int:
    """Take a free slot of the company and return its id, or raise `CallSlotsBusy`."""
    taken = _slots_take(
        company_id=company_id, holder=holder, now=now or timezone.now(), up_to=1, keep_free=0
    )
    if not taken:
        raise CallSlotsBusy(company_id, settings.CODAT_MAX_CALLS_PER_COMPANY)
    return taken[0]


def call_slots_acquire_free(
    *, company_id: int, holder: str, up_to: int, now: datetime | None = None
) -> list[int]:
    """Take free slots of the company, at most `up_to`, always leaving one free; never waits and
    never raises (the caller simply works with the slot it already holds).

    The slot left free keeps the company's other work (polls, receipts, a push resumed after a
    worker died holding these slots until their lease ends) from waiting behind a push."""
    if up_to < 1:
        return []
    return _slots_take(
        company_id=company_id, holder=holder, now=now or timezone.now(), up_to=up_to, keep_free=1
    )


def call_slot_release(slot_id: int) -> None:
    CodatCallSlot.objects.filter(pk=slot_id).delete()


def call_slots_release_of_worker(worker: str) -> int:
    """Give back every slot held by a task of the worker named `worker` (a holder ending in
    `@<worker>`); how many. Called as that worker starts, before it takes any task: a slot under
    its name is then a previous run's that died holding it (a worker's name is unique among
    running workers, as Celery requires), and would otherwise block the company until its
    lease ends."""
    if not worker:
        return 0
    released, _ = CodatCallSlot.objects.filter(holder__endswith=f"@{worker}").delete()
    return released


@contextmanager
def codat_call_slot(company_id: int, *, holder: str = "") -> Iterator[None]:
    """Hold one of the company's slots for the block; `CallSlotsBusy` when none is free."""
    slot_id = call_slot_acquire(company_id=company_id, holder=holder or uuid.uuid4().hex)
    try:
        yield
    finally:
        call_slot_release(slot_id)


@contextmanager
def codat_spare_call_slots(company_id: int, *, holder: str = "", up_to: int) -> Iterator[int]:
    """Hold up to `up_to` more of the company's slots for the block (leaving one free) and say
    how many: work that can run side by side (a push's datasets) uses them for calls in
    parallel, and never more than the company's limit."""
    slot_ids = call_slots_acquire_free(
        company_id=company_id, holder=holder or uuid.uuid4().hex, up_to=up_to
    )
    try:
        yield len(slot_ids)
    finally:
        CodatCallSlot.objects.filter(pk__in=slot_ids).delete()
