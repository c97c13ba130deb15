"""Keeping the Codat key and the webhook secret (and the failure notices' chat webhook URL) out
of logs, stored exchanges and error pages.

For error pages and reports, Django hides settings whose names look secret and the variables
marked with `@sensitive_variables`, but a traceback through the Codat client carries the key in
frames it does not own: requests' and urllib3's `headers` hold `Authorization: Basic <key>`.
This filter replaces any frame variable whose text contains the Codat key or the webhook
secret, in every form they are sent or stored in, whether DEBUG is on or off.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


def secret_forms() -> list[str]:
    """The Codat key and webhook secret as configured and as they travel."""
    forms: list[str] = []
    key = settings.CODAT_API_KEY
    if key:
        forms += [key, base64.b64encode(key.encode()).decode("ascii")]
    secret = settings.CODAT_WEBHOOK_SECRET
    if secret:
        body = secret.removeprefix("whsec_")
        forms += [secret, body]
        try:
            raw = base64.b64decode(body, validate=True).decode("utf-8")
        except ValueError:
            raw = ""
        if len(raw) >= 8:
            forms.append(raw)
    # The failure notices' chat webhook: its URL alone lets anyone post to the channel.
    webhook = settings.NOTICE_WEBHOOK_URL
    if webhook:
        forms.append(webhook)
    # Too short a value would blank out ordinary text; real keys and secrets are long.
    return [form for form in forms if len(form) >= 8]


def redact_secrets(text: str) -> str:
    for form in secret_forms():
        text = text.replace(form, "[redacted]")
    return text


class SecretScrubbingReporterFilter(SafeExceptionReporterFilter):
    # Django's list, and the chat webhook's URL (NOTICE_WEBHOOK_URL), a credential by itself.
    hidden_settings = re.compile(
        SafeExceptionReporterFilter.hidden_settings.pattern + "|WEBHOOK_URL", flags=re.I
    )

    def cleanse_special_types(self, request: HttpRequest | None, value: Any) -> Any:
        value = super().cleanse_special_types(request, value)
        try:
            text = repr(value)
        except Exception:  # a broken __repr__ says nothing; show nothing
            return self.cleansed_substitute
        if any(form in text for form in secret_forms()):
            return self.cleansed_substitute
        return value


class RedactSecretsFilter(logging.Filter):
    """Rewrites a log record whose text carries the Codat key or webhook secret.

    Nothing in the portal logs them; this holds if a library or a future message ever does.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        return True
