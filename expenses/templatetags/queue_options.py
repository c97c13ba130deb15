"""`{% select_options records selected %}`: the <option>s of a queue row's select, built in
Python. A page of 200 rows renders thousands of options; the template loop did it one node at a
time, this joins pre-escaped strings (each record list is escaped once per page)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


_Option = tuple[Any, str, str]  # pk, '<option value="…"', '>label</option>'


def _escaped(context: template.Context, records: Sequence[Any], by_name: bool) -> list[_Option]:
    cache: dict[tuple[int, bool], tuple[Sequence[Any], list[_Option]]]
    cache = context.render_context.get("queue_options")  # type: ignore[assignment]
    if cache is None:
        cache = {}
        context.render_context["queue_options"] = cache
    key = (id(records), by_name)
    if key not in cache:
        options = [
            (
                r.pk,
                f'<option value="{r.pk}"',
                f">{conditional_escape(r.name if by_name else str(r))}</option>",
            )
            for r in records
        ]
        # The list is kept with its options so that its id is not reused during this render.
        cache[key] = (records, options)
    return cache[key][1]


@register.simple_tag(takes_context=True)
def select_options(
    context: template.Context, records: Sequence[Any], selected: Any = None, by_name: bool = False
) -> SafeString:
    """Options for `records` (labelled by str(), or by `.name`), marking `selected`: a pk, or
    a collection of pks for a multiple choice."""
    chosen: Collection[Any] = (
        selected if isinstance(selected, set | frozenset | list | tuple) else {selected}
    )
    parts = [
        f"{head} selected{tail}" if pk in chosen else f"{head}{tail}"
        for pk, head, tail in _escaped(context, records, by_name)
    ]
    return mark_safe("".join(parts))  # noqa: S308 - every label is escaped above
