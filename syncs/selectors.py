"""Reads about syncs."""

from __future__ import annotations

from typing import Any

from syncs.models import SyncTransaction


def sync_results_for_expense(*, expense: Any) -> list[SyncTransaction]:
    """Every result Codat gave for this expense, newest sync first, with its sync loaded."""
    return list(
        SyncTransaction.objects.filter(expense=expense)
        .select_related("sync")
        .order_by("-sync__requested_at")
    )
