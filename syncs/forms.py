"""Input of the dashboard: a GET form whose every error names the field and the fix."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms

from companies.platforms import Platform
from syncs.dashboard import SORTS, DashboardFilters

DEFAULT_DAYS = 30
MAX_DAYS = 366
PER_PAGE_CHOICES = (10, 25, 50, 100)


class DashboardFilterForm(forms.Form):
    start = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "From: enter a date as YYYY-MM-DD."},
    )
    end = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "To: enter a date as YYYY-MM-DD."},
    )
    platform = forms.ChoiceField(
        required=False,
        choices=[("", "All platforms"), *Platform.choices],
        error_messages={"invalid_choice": "Platform: choose one of the listed platforms."},
    )
    code = forms.IntegerField(
        required=False,
        label="Status code",
        min_value=0,
        max_value=9999,
        widget=forms.NumberInput(attrs={"placeholder": "e.g. 2000", "inputmode": "numeric"}),
        error_messages={
            "invalid": "Status code: enter Codat's four-digit code, e.g. 2000 or 1010.",
            "min_value": "Status code: enter Codat's four-digit code, e.g. 2000 or 1010.",
            "max_value": "Status code: enter Codat's four-digit code, e.g. 2000 or 1010.",
        },
    )
    sort = forms.ChoiceField(required=False, choices=list(SORTS.items()))
    per_page = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(n, str(n)) for n in PER_PAGE_CHOICES],
        error_messages={"invalid_choice": "Per page: choose 10, 25, 50 or 100."},
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        end = data.get("end") or self.today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            self.add_error("start", "From: choose a date on or before the To date.")
        elif (end - start).days >= MAX_DAYS:
            self.add_error("start", f"From: choose a range of at most {MAX_DAYS} days.")
        data["start"], data["end"] = start, end
        return data

    def filters(self) -> DashboardFilters:
        """The filters asked for; the defaults (last 30 days) where the input is invalid."""
        data = self.cleaned_data if self.is_valid() else {}
        end = data.get("end") or self.today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        return DashboardFilters(
            start=start,
            end=end,
            platform=data.get("platform") or "",
            status_code=data.get("code"),
        )
