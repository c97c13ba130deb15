"""Input of the companies pages: connect a company, its configuration, its members, what a
member hears of its failures."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm

from companies.models import Company, Customer, LedgerAccount, NoticeChoice, Role, Supplier
from companies.platforms import Platform
from sfe_portal.form_fields import RecordChoiceField


class ConnectCompanyForm(forms.Form):
    name = forms.CharField(max_length=200, label="Company name")
    platform = forms.ChoiceField(choices=Platform.choices, label="Accounting software")

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter the company's name as the customer knows it.")
        return name


class _LabelledChoice(RecordChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        if isinstance(obj, LedgerAccount):
            code = f"{obj.nominal_code} " if obj.nominal_code else ""
            return f"{code}{obj.name} ({obj.currency or 'no currency'})"
        currency = getattr(obj, "default_currency", "")
        return f"{obj.name} ({currency})" if currency else str(obj.name)


class ConfigurationForm(forms.Form):
    """Bank accounts only (accounts flagged as bank accounts), active suppliers and customers."""

    bank_account = _LabelledChoice(
        queryset=LedgerAccount.objects.none(), label="Default bank account", empty_label=None
    )
    supplier = _LabelledChoice(
        queryset=Supplier.objects.none(), label="Default supplier", required=False
    )
    customer = _LabelledChoice(
        queryset=Customer.objects.none(), label="Default customer", required=False
    )

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["bank_account"].queryset = (  # type: ignore[attr-defined]
            LedgerAccount.objects.usable()
            .filter(company=company, is_bank_account=True)
            .order_by("currency", "name")
        )
        self.fields["supplier"].queryset = Supplier.objects.usable().filter(  # type: ignore[attr-defined]
            company=company
        )
        self.fields["customer"].queryset = Customer.objects.usable().filter(  # type: ignore[attr-defined]
            company=company
        )


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, label="E-mail address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.BOOKKEEPER)

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class InvitationAccountForm(UserCreationForm):
    """The account an invitation makes for an address that has none: a username and a
    password; the address is the invitation's."""

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.email = email  # the password validators compare against it too


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class NoticeChoiceForm(forms.Form):
    notices = forms.ChoiceField(
        choices=NoticeChoice.choices,
        widget=forms.RadioSelect,
        label="What you hear of this company's failures",
        error_messages={
            "required": "Notices: choose every failure, a daily digest or nothing.",
            "invalid_choice": "Notices: choose every failure, a daily digest or nothing.",
        },
    )
