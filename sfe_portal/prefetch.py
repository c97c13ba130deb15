"""Related rows read ahead and kept on an instance, for reading only.

`keep_related(expense, "lines", rows)` keeps rows read in a query of one's own (or just
written); `related(expense, "lines")` returns them without a query — else what Django's
`prefetch_related` left, else it queries. Reading rows in one query and keeping them costs far
less than prefetching, which builds a related manager and a filtered queryset per instance.

Kept rows live apart from Django's prefetch cache on purpose: the related manager never sees
them, so `expense.lines.filter(…)`, `.update(…)` or `.all()` still ask the database for exactly
that expense's rows, and nothing can act on a wrong set.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

_KEPT = "_kept_related"
_PREFETCHED = "_prefetched_objects_cache"


def keep_related(instance: Model, relation: str, rows: list[Any]) -> None:
    """Keep `rows` as the instance's `relation` for `related()`. The rows are not copied."""
    instance.__dict__.setdefault(_KEPT, {})[relation] = rows


def forget_related(instance: Model, relation: str) -> None:
    """Drop what was kept or prefetched of `relation` (its rows changed)."""
    for cache in (instance.__dict__.get(_KEPT), instance.__dict__.get(_PREFETCHED)):
        if cache is not None:
            cache.pop(relation, None)


def has_related(instance: Model, relation: str) -> bool:
    """Whether `related()` answers from memory."""
    return any(relation in (instance.__dict__.get(name) or {}) for name in (_KEPT, _PREFETCHED))


def related(instance: Model, relation: str) -> list[Any]:
    """The rows of `instance.<relation>`: kept, else prefetched, else read now."""
    for name in (_KEPT, _PREFETCHED):
        cache = instance.__dict__.get(name)
        if cache is not None and relation in cache:
            return list(cache[relation])
    return list(getattr(instance, relation).all())
