"""`{% queue_rows rows %}`: the queue's rows (expenses/rows.py), with the company, coding
choices, permissions and refusal of the page or partial that shows them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.safestring import SafeString

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
