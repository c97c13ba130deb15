"""State machines: each status field declares its legal moves once, and services check them here."""

from collections.abc import Collection, Mapping
from typing import Any

from django.db.models import QuerySet


class IllegalTransition(Exception):
    """A status change that the state machine does not allow."""

    def __init__(self, entity: str, current: str, target: str) -> None:
        self.entity, self.current, self.target = entity, current, target
        super().__init__(f"{entity} cannot go from '{current}' to '{target}'.")


class StaleState(Exception):
    """The row changed under us: another process moved it first (conditional update hit 0)."""

    def __init__(self, entity: str, expected: str) -> None:
        self.entity, self.expected = entity, expected
        super().__init__(f"{entity} is no longer '{expected}': another process changed it first.")


def check_transition(
    entity: str, transitions: Mapping[str, frozenset[str]], current: str, target: str
) -> None:
    """Raise `IllegalTransition` unless `transitions[current]` allows `target`."""
    if target not in transitions.get(current, frozenset()):
        raise IllegalTransition(entity, str(current), str(target))


def transition_update(
    rows: QuerySet[Any],
    *,
    entity: str,
    transitions: Mapping[str, frozenset[str]],
    to: str,
    current: str | Collection[str] | None = None,
    field: str = "state",
    **changes: object,
) -> int:
    """Move `rows` to `to` in one conditional `UPDATE … WHERE <field> IN (<sources>)`; how many
    moved. Every status change of the portal goes through here or `check_transition`.

    `current`: the state or states the caller moves from, each checked to allow `to`
    (`IllegalTransition` otherwise); by default every state `to` may be reached from. Rows in any
    other state are left as they are, so a row another process moved first is never
    overwritten."""
    if current is None:
        sources = [state for state, targets in transitions.items() if to in targets]
    else:
        sources = [current] if isinstance(current, str) else list(current)
        for source in sources:
            check_transition(entity, transitions, source, to)
    return rows.filter(**{f"{field}__in": sources}).update(**{field: to}, **changes)
