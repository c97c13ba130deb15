"""A small parser for Codat's query language (API-NOTES §2.5).

Grammar: `expr := and ('||' and)*`, `and := atom ('&&' atom)*`, `atom := '{' expr '}' | prop op
value`, with operators `=`, `!=`, `~` (contains), `>`, `<`, `>=`, `<=` and dotted properties such as
`metadata.isDeleted`. Values run to the next `&&`, `||` or `}`. Comparisons ignore case, as Codat's
do (`status=active` matches `Active`); nulls and arrays never match. Anything else is the 400
"Error parsing query - Malformed query."
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.errors import MALFORMED_QUERY, ApiError

Predicate = Callable[[dict[str, Any]], bool]

MAX_QUERY_LENGTH = 2048
_PROP = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(!=|>=|<=|=|~|>|<)")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self) -> ApiError:
        return ApiError(400, MALFORMED_QUERY)

    def peek(self, token: str) -> bool:
        rest = self.text[self.pos :].lstrip()
        return rest.startswith(token)

    def take(self, token: str) -> None:
        stripped = len(self.text[self.pos :]) - len(self.text[self.pos :].lstrip())
        self.pos += stripped + len(token)

    def parse(self) -> Predicate:
        predicate = self.expr()
        if self.text[self.pos :].strip():
            raise self.fail()
        return predicate

    def expr(self) -> Predicate:
        parts = [self.conj()]
        while self.peek("||"):
            self.take("||")
            parts.append(self.conj())
        if len(parts) == 1:
            return parts[0]
        return lambda record: any(p(record) for p in parts)

    def conj(self) -> Predicate:
        parts = [self.atom()]
        while self.peek("&&"):
            self.take("&&")
            parts.append(self.atom())
        if len(parts) == 1:
            return parts[0]
        return lambda record: all(p(record) for p in parts)

    def atom(self) -> Predicate:
        if self.peek("{"):
            self.take("{")
            inner = self.expr()
            if not self.peek("}"):
                raise self.fail()
            self.take("}")
            return inner
        match = _PROP.match(self.text, self.pos)
        if not match:
            raise self.fail()
        prop, op = match.group(1), match.group(2)
        self.pos = match.end()
        end = len(self.text)
        for stop in ("&&", "||", "}"):
            found = self.text.find(stop, self.pos)
            if found != -1:
                end = min(end, found)
        value = self.text[self.pos : end].strip()
        self.pos = end
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if value == "":
            raise self.fail()
        return _condition(prop.split("."), op, value)


def _resolve(record: Any, path: list[str]) -> Any:
    current = record
    for part in path:
        if not isinstance(current, dict):
            return None
        lowered = part.lower()
        current = next((v for k, v in current.items() if k.lower() == lowered), None)
    return current


def _candidates(record: Any, path: list[str]) -> list[Any]:
    """Values at `path`; through a list of objects, one per element, so that list-companies can
    filter on `dataConnections.status=Linked` (any connection matches)."""
    if not path:
        return [record]
    if isinstance(record, list):
        return [value for element in record for value in _candidates(element, path)]
    if not isinstance(record, dict):
        return []
    lowered = path[0].lower()
    child = next((v for k, v in record.items() if k.lower() == lowered), None)
    if isinstance(child, list) and len(path) > 1:
        return [value for element in child for value in _candidates(element, path[1:])]
    return _candidates(child, path[1:]) if len(path) > 1 else [child]


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _condition(path: list[str], op: str, expected: str) -> Predicate:
    def check(record: dict[str, Any]) -> bool:
        values = _candidates(record, path)
        if op == "!=":
            # "not equal" holds when no value equals; a missing property never matches.
            present = [v for v in values if v is not None and not isinstance(v, list | dict)]
            return bool(present) and not any(_matches(v, "=", expected) for v in present)
        return any(_matches(v, op, expected) for v in values)

    return check


def _matches(actual: Any, op: str, expected: str) -> bool:
    if actual is None or isinstance(actual, list | dict):
        return False
    text = ("true" if actual else "false") if isinstance(actual, bool) else str(actual)
    if op == "~":
        return expected.lower() in text.lower()
    left, right = _as_number(actual), _as_number(expected)
    if op == "=":
        if left is not None and right is not None:
            return left == right
        return text.lower() == expected.lower()
    if left is None or right is None:
        # Dates and other strings compare in their ISO order.
        return {
            ">": text > expected,
            "<": text < expected,
            ">=": text >= expected,
            "<=": text <= expected,
        }[op]
    return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]


def parse_query(text: str | None) -> Predicate | None:
    """Compile a query into a predicate over a record dict; None when there is no query."""
    if text is None or not text.strip():
        return None
    if len(text) >= MAX_QUERY_LENGTH:
        raise ApiError(400, MALFORMED_QUERY)
    return _Parser(text).parse()


def order_by(records: list[dict[str, Any]], spec: str | None) -> list[dict[str, Any]]:
    """Codat's `orderBy`: a property name, `-` for descending; nulls sort last."""
    if not spec:
        return records
    descending = spec.startswith("-")
    path = spec.lstrip("-").split(".")
    present = [r for r in records if _resolve(r, path) is not None]
    missing = [r for r in records if _resolve(r, path) is None]
    present.sort(key=lambda r: str(_resolve(r, path)).lower(), reverse=descending)
    return present + missing
