"""State machines: each status field declares its legal moves once, and services check them here."""

from collections.abc import Mapping


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
