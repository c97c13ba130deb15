"""The Jinja2 environment of the few templates rendered too often for Django's template
language (the queue's rows, see expenses/rows.py). Autoescaping is on, as in every template."""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils import dateformat, timezone
from django.utils.translation import get_language
from jinja2 import Environment, StrictUndefined

from sfe_portal.money import format_amount


def _date(value: date | None, format_string: str) -> str:
    """Django's `date` filter for a date: the same format characters and month names."""
    if not value:
        return ""
    if type(value) is date:  # not a datetime: its text depends on nothing but the language
        return _date_text(value, format_string, get_language())
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)  # the person's zone, as Django's own filter does
    return dateformat.format(value, format_string)


@functools.lru_cache(maxsize=4096)
def _date_text(value: date, format_string: str, language: str | None) -> str:
    # A page shows the same few hundred dates over and over: each is formatted once.
    return dateformat.format(value, format_string)


def environment(**options: Any) -> Environment:
    if settings.TESTING:
        # A misspelt name fails the test that renders it instead of rendering as nothing.
        options["undefined"] = StrictUndefined
    env = Environment(**options)  # noqa: S701 - Django's backend passes autoescape=True
    env.filters.update({"date": _date, "money": format_amount})
    return env
