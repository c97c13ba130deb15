"""The "Push approved" button: asking for a push, and whether one is under way."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from companies.models import (
    Company,
)
from expenses.models import Expense, ExpenseStatus
from syncs.claim import PushRefused, push_blockers
from syncs.models import (
    Sync,
    SyncKind,
    SyncState,
)

logger = logging.getLogger(__name__)


# A request no claim took up in this long is no longer shown as in flight: its task is still
# queued behind other work, or was lost, and pushing again is allowed (a second claim of the
# same expenses finds them taken).
PUSH_REQUEST_WAIT = timedelta(minutes=15)


def company_push_requested(*, company: Company) -> bool:
    """Whether a push of the company was asked for moments ago and no claim took it up yet."""
    requested = company.push_requested_at
    return requested is not None and timezone.now() - requested < PUSH_REQUEST_WAIT


def company_push_in_flight(*, company: Company) -> bool:
    """Whether a push of the company was asked for and has not ended: requested and not yet
    taken up by a worker, or its sync not yet settled."""
    if company_push_requested(company=company):
        return True
    return Sync.objects.filter(
        company=company,
        kind=SyncKind.PUSH,
        state__in=[SyncState.INITIATING, SyncState.IN_PROGRESS],
    ).exists()


@transaction.atomic
def company_push_start(*, company: Company, by: Any = None) -> int:
    """The workspace's "Push approved": refused while a push of the company is in flight,
    else `company_push_request`. Returns how many approved expenses are being pushed."""
    if company_push_in_flight(company=company):
        raise PushRefused(
            "A push of this company is already under way: the button comes back when it ends."
        )
    return company_push_request(company=company, by=by)


@transaction.atomic
def company_push_request(*, company: Company, by: Any = None) -> int:
    """Queue a push of the company's approved expenses; returns how many are waiting.

    Refused with the reason when the company cannot push. The request is recorded on the
    company (`push_requested_at`) until a claim takes it up; the task starts after commit,
    and the page follows it through our own tables.
    """
    from syncs.tasks import push_company

    blockers = push_blockers(company=company)
    if blockers:
        raise PushRefused(blockers[0])
    waiting = Expense.objects.filter(company=company, status=ExpenseStatus.APPROVED).count()
    if waiting == 0:
        raise PushRefused("Nothing is approved yet: approve expenses in the Ready tab first.")
    now = timezone.now()
    Company.objects.filter(pk=company.pk).update(push_requested_at=now)
    company.push_requested_at = now
    transaction.on_commit(lambda: push_company.delay(company.pk))
    logger.info(
        "Push of %s approved expenses of company %s requested by %s", waiting, company.pk, by
    )
    return waiting
