"""At most `CODAT_MAX_CALLS_PER_COMPANY` Codat calls in flight per company, across every worker.

A task takes a slot before it talks to Codat for a company and gives it back when it is done; a
task that finds every slot taken is queued again a moment later instead of waiting on a worker,
so one busy company never holds the workers that other companies' work needs. Slots are rows with
a lease, so a worker killed while holding one blocks nothing for longer than the lease.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from companies.models import Company
from gateway.models import CodatCallSlot

logger = logging.getLogger(__name__)


class CallSlotsBusy(Exception):
    """Every slot of the company is held; try again in `retry_in` seconds."""

    def __init__(self, company_id: int, limit: int) -> None:
        super().__init__(
            f"Company {company_id} already has {limit} Codat calls in flight "
            "(CODAT_MAX_CALLS_PER_COMPANY); the work is queued again."
        )
        self.company_id = company_id
        self.retry_in = 2.0


def call_slot_acquire(*, company_id: int, holder: str, now: datetime | None = None) -> int:
    """Take a free slot of the company and return its id, or raise `CallSlotsBusy`."""
    now = now or timezone.now()
    limit = settings.CODAT_MAX_CALLS_PER_COMPANY
    with transaction.atomic():
        # The company row is the lock that orders every worker's count-then-insert.
        Company.objects.select_for_update().filter(pk=company_id).values_list("pk").first()
        live = CodatCallSlot.objects.filter(company_id=company_id, leased_until__gt=now)
        if live.count() >= limit:
            raise CallSlotsBusy(company_id, limit)
        CodatCallSlot.objects.filter(company_id=company_id, leased_until__lte=now).delete()
        slot = CodatCallSlot.objects.create(
            company_id=company_id,
            holder=holder[:200],
            acquired_at=now,
            leased_until=now + timedelta(seconds=settings.CODAT_CALL_SLOT_LEASE_S),
        )
    return slot.pk


def call_slots_acquire_free(
    *, company_id: int, holder: str, up_to: int, now: datetime | None = None
) -> list[int]:
    """Take free slots of the company, at most `up_to`, always leaving one free; never waits and
    never raises (the caller simply works with the slot it already holds).

    The slot left free keeps the company's other work (polls, receipts, a push resumed after a
    worker died holding these slots until their lease ends) from waiting behind a push."""
    if up_to < 1:
        return []
    now = now or timezone.now()
    limit = settings.CODAT_MAX_CALLS_PER_COMPANY
    with transaction.atomic():
        Company.objects.select_for_update().filter(pk=company_id).values_list("pk").first()
        live = CodatCallSlot.objects.filter(company_id=company_id, leased_until__gt=now).count()
        free = min(up_to, limit - live - 1)
        if free < 1:
            return []
        CodatCallSlot.objects.filter(company_id=company_id, leased_until__lte=now).delete()
        lease = now + timedelta(seconds=settings.CODAT_CALL_SLOT_LEASE_S)
        return [
            CodatCallSlot.objects.create(
                company_id=company_id, holder=holder[:200], acquired_at=now, leased_until=lease
            ).pk
            for _ in range(free)
        ]


def call_slot_release(slot_id: int) -> None:
    CodatCallSlot.objects.filter(pk=slot_id).delete()


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
