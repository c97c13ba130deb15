"""Moves of a dispatch: each a conditional update through the declared transitions, kept as a
step in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from notices.models import DISPATCH_TRANSITIONS, DispatchState, DispatchStep, NoticeDispatch
from sfe_portal.transitions import transition_update


@transaction.atomic
def dispatch_move(
    rows: QuerySet[NoticeDispatch],
    *,
    to: DispatchState,
    current: DispatchState | list[DispatchState],
    at: datetime,
    note: str,
    **changes: Any,
) -> list[int]:
    """Move the dispatches among `rows` that are in `current` to `to`, each with a step saying
    why; the ids of those that moved (those another process moved first are left alone)."""
    candidates = list(rows.values_list("pk", flat=True))
    if not candidates:
        return []
    sources = [current] if isinstance(current, str) else current
    moved = []
    for pk in candidates:
        if transition_update(
            rows.filter(pk=pk),
            entity="Notice dispatch",
            transitions=DISPATCH_TRANSITIONS,
            to=to,
            current=sources,
            **changes,
        ):
            moved.append(pk)
    DispatchStep.objects.bulk_create(
        DispatchStep(dispatch_id=pk, state=to, at=at, note=note[:2000]) for pk in moved
    )
    return moved


def dispatch_opened(*, dispatch: NoticeDispatch, note: str) -> None:
    """The first step of a dispatch: made, and when it is due."""
    DispatchStep.objects.create(
        dispatch=dispatch, state=dispatch.state, at=dispatch.created_at, note=note[:2000]
    )
