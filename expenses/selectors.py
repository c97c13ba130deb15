"""Reads about expenses."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count

from expenses.models import Expense


def expense_status_counts_by_company(*, company_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """`{company_id: {status: count}}` in one grouped query (served by the queue index)."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        Expense.objects.filter(company_id__in=list(company_ids))
        .values_list("company_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for company_id, status, n in rows:
        counts[company_id][status] = n
    return dict(counts)
