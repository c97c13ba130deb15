"""Choice fields for records picked by id, safe on every database backend.

Django's model choice fields turn ValueError and TypeError from the lookup into "not one of
the available choices", but SQLite raises OverflowError for an id beyond its 64-bit integers
("99999999999999999999"), which became a server error. These fields refuse it like any other
id that is not a choice.
"""

from __future__ import annotations

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
