"""Failure causes: Codat's messages with what differs between occurrences taken out, so the
same problem at two companies (or on two expenses) reads as one cause on the dashboard."""

from __future__ import annotations

import re

CAUSE_MAX_LENGTH = 300

# Order matters: wider shapes first, so a UUID is not half-eaten by the number rule.
_RULES: list[tuple[re.Pattern[str], str]] = [
    # Quoted names, in straight or curly quotes: 'Travel', "Acme Ltd".
    (re.compile(r"'[^']*'|\"[^\"]*\"|‘[^’]*’|“[^”]*”"), "<name>"),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b"
        ),
        "<id>",
    ),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?\b"), "<date>"),
    # Money: an optional currency sign or ISO code, digits with separators and decimals.
    (
        re.compile(
            r"(?:[£$€¥]\s?|\b[A-Z]{3}\s)-?\d[\d,]*(?:\.\d+)?\b|-?\b\d[\d,]*\.\d+\b(?:\s?[A-Z]{3}\b)?"
        ),
        "<amount>",
    ),
    # Ids with letters and digits mixed (ABC-123, INV0042, acc_9f8e), then any bare number.
    (re.compile(r"\b(?=[A-Za-z_-]*\d)(?=\w*[A-Za-z])[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*\b"), "<id>"),
    (re.compile(r"\b\d+\b"), "<n>"),
]
_SPACES = re.compile(r"\s+")


def normalise_cause(message: str) -> str:
    """The cause of a failure message: ids, UUIDs, amounts, dates, numbers and quoted names
    replaced by placeholders, whitespace collapsed. Pure; the same input gives the same cause.

    >>> normalise_cause("Account '400' is archived (id 8f1e…)")  # doctest: +SKIP
    """
    text = message or ""
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return "No reason given"
    return text[:CAUSE_MAX_LENGTH]
