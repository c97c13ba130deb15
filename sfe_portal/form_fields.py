"""Choice fields for records picked by id, safe on every database backend.

Django's model choice fields turn ValueError and TypeError from the lookup into "not one of
the available choices", but SQLite raises OverflowError for an id beyond its 64-bit integers
("99999999999999999999"), which became a server error. These fields refuse it like any other
id that is not a choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.db.models import Model

if TYPE_CHECKING:
    _ChoiceField = forms.ModelChoiceField[Model]
    _MultipleChoiceField = forms.ModelMultipleChoiceField[Model]
else:  # the generic forms exist for the type checker only
    _ChoiceField = forms.ModelChoiceField
    _MultipleChoiceField = forms.ModelMultipleChoiceField


class RecordChoiceField(_ChoiceField):
    def to_python(self, value: Any) -> Model | None:
        try:
            return super().to_python(value)
        except OverflowError:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None


class RecordMultipleChoiceField(_MultipleChoiceField):
    def clean(self, value: Any) -> Any:
        try:
            return super().clean(value)
        except OverflowError:
            raise forms.ValidationError(
                self.error_messages["invalid_pk_value"],
                code="invalid_pk_value",
                params={"pk": next((v for v in value if _too_big(v)), "")},
            ) from None


def _too_big(value: Any) -> bool:
    try:
        return abs(int(value)) >= 2**63
    except (TypeError, ValueError):
        return False


_NOT_A_CHOICE = "Select a valid choice. That choice is not one of the available choices."


class ListedRecordField(forms.Field):
    """A record picked by id from records the view has read already (the ones the page
    offers), so validating it costs no query. Ids not among them are refused."""

    default_error_messages = {"invalid_choice": _NOT_A_CHOICE}

    def __init__(self, records: Iterable[Model], **kwargs: Any) -> None:
        self.by_id = {str(record.pk): record for record in records}
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Model | None:
        if value in self.empty_values:
            return None
        record = self.by_id.get(str(value).strip())
        if record is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return record


class ListedRecordsField(forms.Field):
    """Several records picked by id from records already read (one select per group posts an
    id or "" each); any id not among them refuses the field."""

    widget = forms.SelectMultiple
    default_error_messages = {
        "invalid_choice": "Select a valid choice. %(value)s is not one of the available choices.",
        "invalid_list": "Enter a list of values.",
    }

    def __init__(self, records: Iterable[Model], **kwargs: Any) -> None:
        self.by_id = {str(record.pk): record for record in records}
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[Model]:
        if value in self.empty_values:
            return []
        if not isinstance(value, list | tuple):
            raise forms.ValidationError(self.error_messages["invalid_list"], code="invalid_list")
        chosen: list[Model] = []
        for raw in value:
            if raw in self.empty_values:
                continue
            record = self.by_id.get(str(raw).strip())
            if record is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": str(raw)[:40]},
                )
            if record not in chosen:
                chosen.append(record)
        return chosen
