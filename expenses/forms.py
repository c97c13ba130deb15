"""Forms of the workspace: queue filters, inline coding, bulk actions and merchant rules."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.http import QueryDict

from companies.models import Company, LedgerAccount, Supplier, TaxRate, TrackingCategory
from companies.platforms import TransactionType
from expenses.coding import LineInput
from expenses.currency_rate import RATE_MEANING
from expenses.models import CategorizationRule, RuleMatch
from expenses.rows import supplier_label
from expenses.rules import RuleInput, rule_account_type_error, rule_amount_range_error
from expenses.selectors import PAGE_SIZE, PAGE_SIZES, SORTS, TABS, CodingChoices, QueueFilters
from sfe_portal.form_fields import (
    ListedRecordField,
    ListedRecordsField,
    RecordChoiceField,
    RecordMultipleChoiceField,
)
from sfe_portal.money import MAX_MINOR_UNITS


class QueueFilterForm(forms.Form):
    tab = forms.ChoiceField(choices=[(k, v[0]) for k, v in TABS.items()], required=False)
    q = forms.CharField(max_length=200, required=False, strip=True)
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)
    type = forms.ChoiceField(choices=[("", "Any type"), *TransactionType.choices], required=False)
    amount_min = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    amount_max = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    currency = forms.RegexField(regex=r"^[A-Za-z]{3}$", required=False)
    receipt = forms.ChoiceField(
        choices=[("", "Any"), ("yes", "With receipt"), ("no", "Without receipt")], required=False
    )
    person = forms.CharField(max_length=200, required=False, strip=True)
    sort = forms.ChoiceField(
        choices=[
            ("newest", "Newest first"),
            ("oldest", "Oldest first"),
            ("largest", "Largest first"),
            ("smallest", "Smallest first"),
        ],
        required=False,
    )
    per_page = forms.TypedChoiceField(
        choices=[(n, f"{n} per page") for n in PAGE_SIZES], coerce=int, required=False
    )
    after = forms.CharField(max_length=200, required=False)

    def filters(self) -> QueueFilters:
        """The valid filters; a field with a bad value is ignored and reported by the form."""
        data: dict[str, Any] = (
            self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        )
        receipt = data.get("receipt") or ""
        return QueueFilters(
            tab=data.get("tab") or "todo",
            text=data.get("q") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            type=data.get("type") or "",
            amount_min=data.get("amount_min"),
            amount_max=data.get("amount_max"),
            currency=(data.get("currency") or "").upper(),
            has_receipt={"yes": True, "no": False}.get(receipt),
            person=data.get("person") or "",
            sort=str(data.get("sort")) if data.get("sort") in SORTS else "newest",
            per_page=data.get("per_page") or PAGE_SIZE,
            after=data.get("after") or "",
        )


class TrackingField(RecordMultipleChoiceField):
    """Tracking is posted as one select per group; a group left empty posts ""."""

    def clean(self, value: Any) -> Any:
        return super().clean([v for v in (value or []) if v not in ("", None)])


class InlineCodingForm(forms.Form):
    """A row's coding, picked from the choices the page offers (this company's usable
    records), so another company's ids are refused as invalid choices and validating costs no
    query."""

    def __init__(self, data: QueryDict, *, choices: CodingChoices) -> None:
        super().__init__(data)
        self.query_data = data
        self.fields["account"] = ListedRecordField(choices.accounts, required=False)
        self.fields["tax_rate"] = ListedRecordField(choices.tax_rates, required=False)
        self.fields["tracking"] = ListedRecordsField(
            [option for group in choices.tracking_groups for option in group.options],
            required=False,
        )


class BulkActionForm(InlineCodingForm):
    """A bulk action on the selected rows, or on every row matching the queue's filters."""

    action = forms.ChoiceField(
        choices=[("code", "Apply coding"), ("approve", "Approve"), ("exclude", "Exclude")]
    )
    all_matching = forms.BooleanField(required=False)

    def __init__(self, data: QueryDict, *, choices: CodingChoices) -> None:
        super().__init__(data, choices=choices)
        self.fields["supplier"] = ListedRecordField(choices.suppliers, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Any well-formed id may be sent; ids of other companies are simply not found.
        ids: list[uuid.UUID] = []
        for raw in self.query_data.getlist("ids"):
            try:
                ids.append(uuid.UUID(str(raw)))
            except ValueError as exc:
                raise forms.ValidationError(f"'{raw}' is not an expense id.") from exc
        if not data.get("all_matching") and not ids:
            raise forms.ValidationError("Select at least one expense, or all matching.")
        data["ids"] = ids
        return data


class ExpenseLineForm(forms.Form):
    account = RecordChoiceField(queryset=LedgerAccount.objects.none(), required=False)
    tax_rate = RecordChoiceField(queryset=TaxRate.objects.none(), required=False)
    tracking = TrackingField(queryset=TrackingCategory.objects.none(), required=False)
    # Decimals as the expense's currency has them: checked by the coding service.
    net_amount = forms.DecimalField(
        max_digits=15, decimal_places=MAX_MINOR_UNITS, min_value=0, max_value=5_000_000
    )
    tax_amount = forms.DecimalField(
        max_digits=15, decimal_places=MAX_MINOR_UNITS, min_value=0, max_value=5_000_000, initial=0
    )
    description = forms.CharField(max_length=500, required=False)

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"] = RecordChoiceField(
            queryset=LedgerAccount.objects.filter(company=company).usable(), required=False
        )
        self.fields["tax_rate"] = RecordChoiceField(
            queryset=TaxRate.objects.filter(company=company).usable(), required=False
        )
        self.fields["tracking"] = TrackingField(
            queryset=TrackingCategory.objects.filter(company=company).usable(), required=False
        )

    def clean_tracking(self) -> list[TrackingCategory]:
        return list(self.cleaned_data.get("tracking") or [])


def lines_from_formset(formset: Any) -> list[LineInput]:
    return [
        LineInput(
            net_amount=form.cleaned_data["net_amount"],
            tax_amount=form.cleaned_data["tax_amount"] or Decimal(0),
            account=form.cleaned_data["account"],
            tax_rate=form.cleaned_data["tax_rate"],
            tracking=form.cleaned_data["tracking"],
            description=form.cleaned_data["description"],
        )
        for form in formset.forms
    ]


ExpenseLineFormSet = forms.formset_factory(
    ExpenseLineForm,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=100,
    validate_max=True,
    absolute_max=100,
)


class ExpenseDetailsForm(forms.Form):
    notes = forms.CharField(
        max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    currency_rate = forms.DecimalField(
        max_digits=24,
        decimal_places=9,
        min_value=Decimal("0.000000001"),
        required=False,
        help_text=RATE_MEANING,
    )
    supplier_override = RecordChoiceField(queryset=Supplier.objects.none(), required=False)

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["supplier_override"] = RecordChoiceField(
            queryset=Supplier.objects.filter(company=company).usable().order_by("name"),
            required=False,
            empty_label="Default supplier from the configuration",
        )
        self.fields["supplier_override"].label_from_instance = supplier_label  # type: ignore[attr-defined]


# --- Rules ------------------------------------------------------------------------------------


class RuleForm(forms.Form):
    """A merchant rule. Choices are this company's usable records only, so another company's
    ids are refused as invalid choices; the rest of the checks live in `rule_save`."""

    match = forms.ChoiceField(choices=RuleMatch.choices, initial=RuleMatch.CONTAINS)
    pattern = forms.CharField(
        max_length=200,
        label="Merchant text",
        error_messages={"required": "Enter the merchant text to match, e.g. “uber”."},
    )
    transaction_type = forms.ChoiceField(
        choices=[("", "Any type"), *TransactionType.choices], required=False, label="Type"
    )
    min_amount = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, label="Smallest amount"
    )
    max_amount = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, label="Largest amount"
    )
    account = RecordChoiceField(
        queryset=LedgerAccount.objects.none(),
        empty_label="Choose…",
        error_messages={"required": "Choose the account matching expenses are coded to."},
    )
    tax_rate = RecordChoiceField(
        queryset=TaxRate.objects.none(), required=False, empty_label="No tax rate"
    )
    tracking = RecordMultipleChoiceField(
        queryset=TrackingCategory.objects.none(),
        required=False,
        help_text="Ctrl-click (⌘-click on a Mac) to choose more than one, or to clear one.",
    )
    priority = forms.IntegerField(
        min_value=0,
        max_value=1_000_000,
        initial=100,
        help_text="Lower numbers are tried first; rules with the same number go oldest first.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.company = company
        self.fields["account"].queryset = (  # type: ignore[attr-defined]
            LedgerAccount.objects.filter(company=company).usable().order_by("nominal_code", "name")
        )
        self.fields["tax_rate"].queryset = (  # type: ignore[attr-defined]
            TaxRate.objects.filter(company=company).usable().order_by("name")
        )
        self.fields["tracking"].queryset = (  # type: ignore[attr-defined]
            TrackingCategory.objects.filter(company=company, has_children=False)
            .usable()
            .select_related("parent")
            .order_by("parent__name", "name")
        )

    def clean(self) -> dict[str, Any]:
        # The same checks as rule_save, here too so every mistake shows at once.
        data = super().clean() or {}
        if message := rule_amount_range_error(data.get("min_amount"), data.get("max_amount")):
            self.add_error("max_amount", message)
        account = data.get("account")
        if account and (
            message := rule_account_type_error(
                account, data.get("transaction_type", ""), self.company.expenses_api
            )
        ):
            self.add_error("account", message)
        return data

    @staticmethod
    def initial_for(rule: CategorizationRule) -> dict[str, Any]:
        return {
            "match": rule.match,
            "pattern": rule.pattern,
            "transaction_type": rule.transaction_type,
            "min_amount": rule.min_amount,
            "max_amount": rule.max_amount,
            "account": rule.account_id,
            "tax_rate": rule.tax_rate_id,
            "tracking": [c.pk for c in rule.tracking_categories.all()],
            "priority": rule.priority,
            "is_active": rule.is_active,
        }

    def rule_input(self) -> RuleInput:
        data = self.cleaned_data
        return RuleInput(
            match=data["match"],
            pattern=data["pattern"],
            transaction_type=data["transaction_type"] or "",
            min_amount=data["min_amount"],
            max_amount=data["max_amount"],
            account=data["account"],
            tax_rate=data["tax_rate"],
            tracking=list(data["tracking"]),
            priority=data["priority"],
            is_active=data["is_active"],
        )
