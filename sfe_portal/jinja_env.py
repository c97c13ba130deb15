"""The Jinja2 environment of the few templates rendered too often for Django's template
language (the queue's rows, see expenses/rows.py). Autoescaping is on, as in every template."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.utils import dateformat
from jinja2 import Environment, StrictUndefined


def _date(value: date | None, format_string: str) -> str:
    """Django's `date` filter for a date: the same format characters and month names."""
    return dateformat.format(value, format_string) if value else ""


def environment(**options: Any) -> Environment:
    from expenses.rows import money

    if settings.TESTING:
        # A misspelt name fails the test that renders it instead of rendering as nothing.
        options["undefined"] = StrictUndefined
    env = Environment(**options)  # noqa: S701 - Django's backend passes autoescape=True
    env.filters.update({"date": _date, "money": money})
    return env
