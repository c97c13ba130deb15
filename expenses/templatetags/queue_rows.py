"""`{% queue_rows rows %}`: the queue's rows (expenses/rows.py), with the company, coding
choices, permissions and refusal of the page or partial that shows them; and
`{% filter_select form.field %}`: a filter's plain <select>."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.forms import BoundField
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from expenses.rows import queue_rows_html

register = template.Library()


@register.simple_tag(takes_context=True)
def queue_rows(context: template.Context, rows: Sequence[Any]) -> SafeString:
    return queue_rows_html(
        rows,
        company=context["company"],
        choices=context["choices"],
        can_code=bool(context.get("can_code")),
        can_approve=bool(context.get("can_approve")),
        refusal=context.get("refusal") or (),
    )


@register.simple_tag
def filter_select(bound: BoundField) -> SafeString:
    """The field's <select> with its current value selected, as `{{ form.field }}` renders a
    plain Select, written out here: the queue page shows three on every view, and the widget
    renders a template of its own for each option."""
    value = str(bound.value() or "")
    options = "".join(
        f'<option value="{conditional_escape(key)}"{" selected" if str(key) == value else ""}>'
        f"{conditional_escape(label)}</option>"
        for key, label in bound.field.choices  # type: ignore[attr-defined]
    )
    name, id_ = conditional_escape(bound.html_name), conditional_escape(bound.auto_id)
    invalid = ' aria-invalid="true"' if bound.errors else ""
    return mark_safe(f'<select name="{name}"{invalid} id="{id_}">{options}</select>')  # noqa: S308
