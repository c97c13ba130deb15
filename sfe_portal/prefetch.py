"""Related rows read ahead and kept where Django's prefetching keeps them.

`keep_prefetched(expense, "lines", rows)` makes `expense.lines.all()` (in templates, forms,
validation) answer from `rows` without a query, as `prefetch_related` would; reading the rows
in a query of one's own and assembling them costs far less than prefetching, which builds a
related manager and a filtered queryset per instance. `prefetched(line, "tracking_categories")`
reads kept rows without building the manager at all, and queries when nothing was kept.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet

_CACHE = "_prefetched_objects_cache"


def keep_prefetched(instance: Model, relation: str, rows: list[Any]) -> None:
    """Keep `rows` as what `instance.<relation>.all()` returns. The rows are not copied:
    the caller hands them over."""
    model = instance._meta.get_field(relation).related_model
    assert isinstance(model, type), f"{relation} is not a relation"
    queryset: QuerySet[Any] = QuerySet(model=model)
    queryset._result_cache = rows
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    instance.__dict__.setdefault(_CACHE, {})[relation] = queryset


def prefetched(instance: Model, relation: str) -> list[Any]:
    """The rows of `instance.<relation>`, from what was kept (prefetched) when there is."""
    kept: dict[str, QuerySet[Any]] | None = instance.__dict__.get(_CACHE)
    if kept is not None and relation in kept:
        return list(kept[relation])
    return list(getattr(instance, relation).all())
