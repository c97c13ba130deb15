"""Tags of the queue's rows, which a page renders up to 200 times.

`{% select_options records selected %}`: the <option>s of a row's select, built in Python. A page
of 200 rows renders thousands of options; the template loop did it one node at a time, this
escapes and joins each record list once per page and marks the selected option per row.

`{% expense_url name company_id expense_id %}`: a URL of one expense, reversed once per page and
name (reversing is the dearest part of a row otherwise).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django import template
from django.urls import get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Kept on the Context object, which lives for the whole render: partials rendered in a loop get
# a render_context of their own, so a cache there is lost at every row.
_CACHE = "_queue_row_cache"
_PLACEHOLDER = str(uuid.UUID(int=0))


def _page_cache(context: template.Context) -> dict[Any, Any]:
    cache: dict[Any, Any] | None = getattr(context, _CACHE, None)
    if cache is None:
        cache = {}
        setattr(context, _CACHE, cache)
    return cache


def _options_html(context: template.Context, records: Sequence[Any], by_name: bool) -> str:
    cache = _page_cache(context)
    key = ("options", id(records), by_name)
    if key not in cache:
        html = "".join(
            f'<option value="{r.pk}">{conditional_escape(r.name if by_name else str(r))}</option>'
            for r in records
        )
        # The list is kept with its options so that its id is not reused during this render.
        cache[key] = (records, html)
    return cache[key][1]


@register.simple_tag(takes_context=True)
def select_options(
    context: template.Context, records: Sequence[Any], selected: Any = None, by_name: bool = False
) -> SafeString:
    """Options for `records` (labelled by str(), or by `.name`), marking `selected`: a pk, or
    a collection of pks for a multiple choice."""
    html = _options_html(context, records, by_name)
    chosen = selected if isinstance(selected, set | frozenset | list | tuple) else (selected,)
    for pk in chosen:
        if pk is not None:
            html = html.replace(f'<option value="{pk}">', f'<option value="{pk}" selected>', 1)
    return mark_safe(html)  # noqa: S308 - every label is escaped above


@register.simple_tag(takes_context=True)
def expense_url(context: template.Context, name: str, company_id: int, expense_id: Any) -> str:
    cache = _page_cache(context)
    key = ("url", name, company_id)
    if key not in cache:
        cache[key] = reverse(name, args=[company_id, _PLACEHOLDER], urlconf=get_urlconf())
    return cache[key].replace(_PLACEHOLDER, str(expense_id))
