"""The queue's rows as HTML.

A page shows up to 200 rows, each with three or four coding selects, and the row is also the
answer to every inline action. Django's template language spent most of a page's time walking
its nodes row by row, so the rows are one Jinja2 template (`templates/jinja2/expenses/
queue_rows.jinja`), compiled to Python once, rendered for a page in one call. The queue page
and the row partial (`expenses/queue.html#queue-row`) both render it through
`{% queue_rows rows %}`, so there is one markup for a row.

Per render, each record list's <option>s are escaped once and each URL pattern reversed once;
a row only marks its selected options and fills in its expense id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.template import engines
from django.urls import get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from companies.models import Company
from expenses.models import Expense

TEMPLATE = "expenses/queue_rows.jinja"

# The URLs a row links to, by the name the template uses.
_ROW_URLS = {
    "detail": "expense-detail",
    "row": "expense-row",
    "code": "expense-code",
    "approve": "expense-approve",
    "exclude": "expense-exclude",
    "accept_suggestion": "expense-accept-suggestion",
}
_PLACEHOLDER = str(uuid.UUID(int=0))
# What get_type_display() and get_status_display() show, looked up once instead of per row.
_LABELS = {
    name: dict(Expense._meta.get_field(name).flatchoices)  # type: ignore[union-attr]
    for name in ("type", "status")
}


def options_html(
    records: Sequence[Any], by_name: bool = False, label: Callable[[Any], str] | None = None
) -> str:
    """<option>s for `records`, labelled by str() (or by `.name`, or by `label`), every label
    escaped."""
    name = label or ((lambda r: r.name) if by_name else str)
    return "".join(
        f'<option value="{r.pk}">{conditional_escape(name(r))}</option>' for r in records
    )


def supplier_label(supplier: Any) -> str:
    """A supplier with the currency it trades in: a supplier of another currency is refused."""
    currency = supplier.default_currency
    return f"{supplier.name} ({currency} only)" if currency else f"{supplier.name} (any currency)"


@dataclass
class _PageParts:
    """What every row of one render shares: option lists and URL patterns. `options` is the
    escaped <option>s per record list (by the list's identity); given the coding choices'
    own (`CodingChoices.options_html`), a list is escaped once per master data version."""

    company_id: int
    options: dict[tuple[int, bool], tuple[Sequence[Any], str]] = field(default_factory=dict)
    url_patterns: dict[str, str] = field(default_factory=dict)

    def select_options(
        self, records: Sequence[Any], selected: Any = None, by_name: bool = False
    ) -> SafeString:
        """<option>s for `records` (labelled by str(), or by `.name`), marking `selected`: a
        pk, or a collection of pks for a multiple choice."""
        key = (id(records), by_name)
        if key not in self.options:
            # The list is kept with its options so that its id is not reused meanwhile.
            self.options[key] = (records, options_html(records, by_name))
        html = self.options[key][1]
        chosen: Collection[Any] = (
            selected if isinstance(selected, set | frozenset | list | tuple) else (selected,)
        )
        for pk in chosen:
            if pk is not None:
                html = html.replace(f'<option value="{pk}">', f'<option value="{pk}" selected>', 1)
        return mark_safe(html)  # noqa: S308 - every label is escaped above

    def urls(self, expense_id: Any) -> dict[str, str]:
        """Every URL the row of `expense_id` links to, by short name."""
        if not self.url_patterns:
            self.url_patterns = {
                short: reverse(name, args=[self.company_id, _PLACEHOLDER], urlconf=get_urlconf())
                for short, name in _ROW_URLS.items()
            }
        expense = str(expense_id)
        return {
            short: url.replace(_PLACEHOLDER, expense) for short, url in self.url_patterns.items()
        }


def queue_rows_html(
    rows: Sequence[Any],
    *,
    company: Company,
    choices: Any,
    can_code: bool,
    can_approve: bool,
    refusal: Sequence[Any] = (),
) -> SafeString:
    """The <tr>s of `rows` (QueueRow), as the queue shows them to a user who may or may not
    code and approve; `refusal`: why the last action on the (single) row was refused."""
    template = engines["jinja2"].get_template(TEMPLATE)
    html = template.render(
        {
            "rows": rows,
            "choices": choices,
            "can_code": can_code,
            "can_approve": can_approve,
            "refusal": refusal,
            "page": _PageParts(company_id=company.pk, options=choices.options_html),
            "labels": _LABELS,
        }
    )
    return mark_safe(html)  # noqa: S308 - the template escapes every value (autoescape)
