"""Secrets never reach the exchange log: authorization headers, API keys, webhook secrets and
tokens are replaced before a body is stored, and again before it is shown (rows written
before this existed are covered too)."""

from __future__ import annotations

import re

from sfe_portal.redaction import redact_secrets

REDACTED = "[redacted]"

# Keys whose values are secrets, in JSON ("apiKey": "…"), form or query strings (api_key=…)
# and header lines (Authorization: Basic …).
_SECRET_KEY = (
    r"(?:authorization|proxy-authorization|x-api-key|api[-_ ]?key|apikey|client[-_]?secret|"
    r"secret|webhook[-_]?secret|signing[-_]?secret|password|passwd|"
    r"(?:access|refresh|id|bearer|auth|session)?[-_]?token|svix-signature|signature)"
)
_JSON_PAIR = re.compile(
    r'(?P<key>"' + _SECRET_KEY + r'"\s*:\s*)(?P<value>"(?:[^"\\]|\\.)*"|[^,}\]\s]+)',
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(
    r"(?P<key>^|\n)(?P<name>\s*" + _SECRET_KEY + r"\s*:\s*)(?P<value>[^\r\n]*)",
    re.IGNORECASE,
)
_QUERY_PAIR = re.compile(
    r"(?P<key>(?:^|[?&;\s])" + _SECRET_KEY + r"=)(?P<value>[^&;\s\"']*)", re.IGNORECASE
)
# Secrets recognisable by their shape wherever they appear.
_SHAPES = [
    re.compile(r"\b(?:Basic|Bearer)\s+[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE),
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"),
    re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]+"),
    # The portal's own ingest keys ("sfe_" and 43 URL-safe characters), quoted without "Bearer".
    re.compile(r"(?<![A-Za-z0-9_-])sfe_[A-Za-z0-9_-]{40,}"),
    # A session's key inside its cache key ("django.contrib.sessions.cached_db" + the key), as
    # a cache or Redis command shows it.
    re.compile(r"(?<=django\.contrib\.sessions\.cached_db)[a-z0-9]{8,}"),
    re.compile(r"(?<=django\.contrib\.sessions\.cache)[a-z0-9]{8,}"),
]


# Every match of the patterns above has one of these in it, in any case: a text without any
# cannot match, and is kept without running them. Dataset bodies, most of what a push logs,
# hold none, so a push does not pay for the patterns on each of its datasets.
_MARKERS = (
    "key",
    "secret",
    "passw",
    "token",
    "signature",
    "authorization",
    "basic",
    "bearer",
    "whsec_",
    "_live_",
    "_test_",
    "sfe_",
    "sessions.cache",
)
# The only characters outside ASCII that the patterns' IGNORECASE takes for ASCII letters.
_ASCII_TWINS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def redact(text: str) -> str:
    """`text` with every secret value replaced by `[redacted]`; the rest kept as it was: the
    configured Codat key and webhook secret wherever they appear, and any value that looks like
    a secret by its name or shape."""
    if not text:
        return text
    text = redact_secrets(text)
    if not could_hold_secret(text):
        return text
    return _redact_patterns(text)


def could_hold_secret(text: str) -> bool:
    """Whether a secret's name or shape could be in `text`; `redact` keeps a text for which
    this is false as it was, without looking further."""
    folded = text.translate(_ASCII_TWINS).lower()
    return any(marker in folded for marker in _MARKERS)


def _redact_patterns(text: str) -> str:
    text = _JSON_PAIR.sub(lambda m: f'{m.group("key")}"{REDACTED}"', text)
    text = _HEADER_LINE.sub(lambda m: f"{m.group('key')}{m.group('name')}{REDACTED}", text)
    text = _QUERY_PAIR.sub(lambda m: f"{m.group('key')}{REDACTED}", text)
    for shape in _SHAPES:
        text = shape.sub(REDACTED, text)
    return text
