"""The daily digest: once a day, for each company with a member who chose it, a dispatch that
says what is still failing there (composed when it is sent; nothing goes out when nothing is)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from companies.models import Membership, NoticeChoice
from notices import clock
from notices.models import DigestRound, DispatchKind, DispatchState, NoticeDispatch
from notices.services import dispatch_opened


def digest_due(*, now: datetime | None = None) -> bool:
    """Whether today's digests (UTC) are due and not made yet."""
    today = (now or clock.now()).astimezone(UTC)
    return (
        today.hour >= settings.NOTICE_DIGEST_HOUR
        and not DigestRound.objects.filter(day=today.date()).exists()
    )


@transaction.atomic
def digests_start(*, now: datetime | None = None) -> list[int]:
    """Make today's digest dispatches, once a day however often it is called; their ids."""
    now = now or clock.now()
    day = now.astimezone(UTC).date()
    try:
        with transaction.atomic():
            DigestRound.objects.create(day=day, made_at=now)
    except IntegrityError:
        return []  # made already today
    company_ids = (
        Membership.objects.filter(
            notices=NoticeChoice.DIGEST, user__is_active=True, user__is_staff=False
        )
        .exclude(user__email="")
        .values_list("company_id", flat=True)
        .distinct()
        .order_by("company_id")
    )
    made = []
    for company_id in company_ids:
        dispatch = NoticeDispatch.objects.create(
            company_id=company_id,
            kind=DispatchKind.DIGEST,
            state=DispatchState.PENDING,
            digest_day=day,
            due_at=now,
            created_at=now,
        )
        dispatch_opened(dispatch=dispatch, note=f"The digest of {day:%Y-%m-%d}")
        made.append(dispatch.pk)
    return made
