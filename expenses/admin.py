from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected as delete_selected_confirmed
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.models import User
from django.contrib.messages.storage.base import BaseStorage
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy

from companies.admin import tracking_options_for
from companies.models import Company, TrackingCategory
from expenses.csv_import import (
    COLUMNS,
    MAX_BYTES,
    MAX_ROWS,
    REQUIRED_COLUMNS,
    CsvImportReport,
    CsvRefused,
    expenses_import_csv,
)
from expenses.export import csv_response
from expenses.ingest import ingest_token_create
from expenses.models import (
    CategorizationRule,
    Expense,
    ExpenseEvent,
    ExpenseLine,
    ExpenseStatus,
    IngestToken,
    Receipt,
)
from expenses.selectors import EXPENSE_EXPORT_COLUMNS, expenses_export_rows
from sfe_portal.history_admin import HistoryAdmin

# Expenses whose record is in the customer's ledger, or on its way there.
GONE_OUT = (ExpenseStatus.PUSHING, ExpenseStatus.SYNCING, ExpenseStatus.SYNCED)
# What the ledger record is made of, besides the lines: the admin leaves them alone once the
# expense has gone out, or the portal would say one thing and the ledger another.
LEDGER_FIELDS = (
    "company",
    "type",
    "issue_date",
    "currency",
    "currency_rate",
    "amount",
    "supplier_override",
)
_TRACKING = Prefetch("tracking_categories", TrackingCategory.objects.select_related("parent"))


def ledger_lock(expense: Expense) -> str:
    """Why the admin may neither change `expense`'s money and lines nor delete it; "" when it
    may."""
    if expense.status == ExpenseStatus.SYNCED:
        return (
            "This expense is in the customer's ledger: its amounts, currency and lines cannot "
            "change here, and it cannot be deleted. Correct it from its page in the portal, "
            "which sends the change through Codat's update endpoint where the platform allows it."
        )
    if expense.status in GONE_OUT:
        return (
            "This expense is on its way to the customer's ledger: its amounts, currency and "
            "lines cannot change here, and it cannot be deleted. Once its sync has ended, fix "
            "or correct it from its page in the portal."
        )
    return ""


class LedgerLockedAdmin(admin.ModelAdmin):
    """Refuses, saying why, to change the money of an expense that has gone out, or to delete
    it, one at a time or with the bulk delete action."""

    expense_path = ""  # how the admin's model reaches the expense, "" for the expense itself

    def expense_of(self, obj: Any) -> Expense:
        return getattr(obj, self.expense_path) if self.expense_path else obj

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and ledger_lock(self.expense_of(obj)):
            return False
        return super().has_delete_permission(request, obj)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "GET":
            obj = self.get_object(request, unquote(object_id))
            reason = ledger_lock(self.expense_of(obj)) if obj is not None else ""
            # A refused delete that led here has said it already.
            if reason and not _pending_message(request, reason):
                self.message_user(request, reason, messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and (reason := ledger_lock(self.expense_of(obj))):
            self.message_user(request, reason, messages.ERROR)
            info = (self.opts.app_label, self.opts.model_name)
            return HttpResponseRedirect(
                reverse("admin:{}_{}_change".format(*info), args=[quote(obj.pk)])
            )
        return super().delete_view(request, object_id, extra_context)

    @admin.action(
        permissions=["delete"], description=gettext_lazy("Delete selected %(verbose_name_plural)s")
    )
    def delete_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponseBase | None:
        """Django's own bulk delete, refused whole when an expense that has gone out is among
        the selected rows (before the confirmation page and again after it)."""
        status = f"{self.expense_path}__status" if self.expense_path else "status"
        gone_out = list(queryset.filter(**{f"{status}__in": GONE_OUT})[:4])
        if gone_out:
            named = ", ".join(str(obj) for obj in gone_out[:3]) + (
                ", …" if len(gone_out) > 3 else ""
            )
            selected = f"some of the selected {self.opts.verbose_name_plural}"
            if self.expense_path:
                selected += " belong to expenses that"
            self.message_user(
                request,
                f"Nothing was deleted: {selected} are in the customer's ledger or on their way "
                f"there ({named}). Deselect them: an expense that has gone out is corrected from "
                "its page in the portal, which sends the change through Codat's update endpoint.",
                messages.ERROR,
            )
            return None
        return delete_selected_confirmed(self, request, queryset)


def _pending_message(request: HttpRequest, text: str) -> bool:
    pending = messages.get_messages(request)
    if not isinstance(pending, BaseStorage):
        return False
    found = any(message.message == text for message in pending)
    pending.used = False  # looking must not use up the messages still to show
    return found


class ExpenseLineInline(admin.TabularInline):
    model = ExpenseLine
    extra = 0
    raw_id_fields = ["account", "tax_rate"]
    filter_horizontal = ["tracking_categories"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExpenseLine]:
        lines = super().get_queryset(request).select_related("account", "tax_rate")
        return lines.prefetch_related(_TRACKING)

    def get_formset(self, request: HttpRequest, obj: Expense | None = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        tracking_options_for(
            formset.form.base_fields.get("tracking_categories"),
            company_id=obj.company_id if obj else None,
            chosen=_chosen_tracking(expense=obj) if obj else None,
        )
        return formset

    # `obj` is the expense: the lines of one that has gone out are shown, never changed.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not (obj and ledger_lock(obj)) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not (obj and ledger_lock(obj)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not (obj and ledger_lock(obj)) and super().has_delete_permission(request, obj)


def _chosen_tracking(*, expense: Expense) -> QuerySet[Any]:
    """The ids of the tracking categories the expense's lines hold."""
    through = ExpenseLine.tracking_categories.through
    return through.objects.filter(expenseline__expense=expense).values("trackingcategory_id")


class TrackingOptionsAdmin(admin.ModelAdmin):
    """A change form whose tracking-categories select offers its company's options, named with
    their categories (`tracking_options_for`)."""

    def company_id_of(self, obj: Any) -> int:
        raise NotImplementedError

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        tracking_options_for(
            form.base_fields.get("tracking_categories"),
            company_id=self.company_id_of(obj) if obj else None,
            chosen=obj.tracking_categories.values("pk") if obj else None,
        )
        return form


class ReceiptInline(admin.TabularInline):
    model = Receipt
    extra = 0
    fields = readonly_fields = (
        "original_name",
        "content_type",
        "size",
        "sha256",
        "created_at",
    )
    can_delete = False


class ExpenseEventInline(admin.TabularInline):
    model = ExpenseEvent
    extra = 0
    fields = readonly_fields = (
        "created_at",
        "kind",
        "actor",
        "as_staff",
        "from_status",
        "to_status",
        "message",
    )
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class MarkSyncedForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
        error_messages={
            "required": "Reason: say why these expenses are already in the ledger, e.g. "
            "“entered by hand by the accountant on 3 Nov”."
        },
    )


class CsvImportForm(forms.Form):
    company = forms.ModelChoiceField(queryset=Company.objects.order_by("name"))
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, with a header row naming the columns (with or without a BOM).",
    )


@admin.register(Expense)
class ExpenseAdmin(LedgerLockedAdmin):
    list_display = [
        "issue_date",
        "merchant_name",
        "company",
        "type",
        "amount",
        "currency",
        "status",
        "employee_name",
        "portal_link",
    ]
    list_filter = ["status", "type", "currency", "source", "company__platform"]
    search_fields = ["id", "external_id", "merchant_name", "employee_name", "company__name"]
    list_select_related = ["company"]
    date_hierarchy = "issue_date"
    raw_id_fields = ["company", "supplier_override", "approved_by"]
    readonly_fields = [
        "id",
        "portal_link",
        "status",
        "status_changed_at",
        "approved_by",
        "approved_at",
        "synced_at",
        "created_at",
        "updated_at",
    ]
    inlines = [ExpenseLineInline, ReceiptInline, ExpenseEventInline]
    actions = ["delete_selected", "mark_as_synced", "not_in_ledger", "export_csv"]

    def get_readonly_fields(self, request: HttpRequest, obj: Expense | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and ledger_lock(obj):
            fields += [name for name in LEDGER_FIELDS if name not in fields]
        return fields

    def get_fields(self, request: HttpRequest, obj: Expense | None = None) -> Any:
        fields = super().get_fields(request, obj)
        if obj is None or not ledger_lock(obj):
            return fields
        # The locked fields keep their places, rather than joining the read-only ones below.
        order = [field.name for field in Expense._meta.fields if field.editable]
        return sorted(fields, key=lambda name: order.index(name) if name in order else len(order))

    @admin.display(description="Portal page")
    def portal_link(self, obj: Expense) -> SafeString | str:
        """The expense's id is its Codat transaction id: it leads to the expense's page."""
        if obj.company_id is None:
            return "–"
        url = reverse("expense-detail", args=[obj.company_id, obj.pk])
        return format_html('<a href="{}">Open</a>', url)

    @admin.action(
        description="Mark failed expenses as synced (already in the ledger)…",
        permissions=["change"],
    )
    def mark_as_synced(
        self, request: HttpRequest, queryset: QuerySet[Expense]
    ) -> TemplateResponse | None:
        """Asks for the reason first (kept on each expense's audit trail), then marks."""
        from expenses.services import expense_mark_synced

        return self._with_reason(
            request,
            queryset,
            action="mark_as_synced",
            title="Mark as synced outside the portal",
            intro="Mark as synced outside the portal",
            changes="only failed expenses and those that need support change",
            marked="failed expenses and those that need support",
            statuses=[ExpenseStatus.FAILED, ExpenseStatus.NEEDS_SUPPORT],
            apply=expense_mark_synced,
            done="marked as synced",
        )

    @admin.action(
        description="Needs support: not in the ledger, may be sent again…",
        permissions=["change"],
    )
    def not_in_ledger(
        self, request: HttpRequest, queryset: QuerySet[Expense]
    ) -> TemplateResponse | None:
        """An expense that needs support, found not to be in the ledger: failed, so that it may
        be fixed and sent again. Asks for the reason first."""
        from expenses.services import expense_not_in_ledger

        return self._with_reason(
            request,
            queryset,
            action="not_in_ledger",
            title="Not in the ledger",
            intro="Checked, not in the ledger:",
            changes="only expenses that need support change, to failed, and may be sent again",
            marked="expenses that need support",
            statuses=[ExpenseStatus.NEEDS_SUPPORT],
            apply=expense_not_in_ledger,
            done="failed, to be sent again",
        )

    def _with_reason(
        self,
        request: HttpRequest,
        queryset: QuerySet[Expense],
        *,
        action: str,
        title: str,
        intro: str,
        changes: str,
        marked: str,
        statuses: list[ExpenseStatus],
        apply: Callable[..., Expense],
        done: str,
    ) -> TemplateResponse | None:
        """An action that asks support why first: the form, then `apply` to each selected
        expense in one of `statuses`, with the reason."""
        from expenses.services import ExpenseRefused

        user = request.user
        assert isinstance(user, User)  # the admin only serves signed-in staff
        form = MarkSyncedForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "intro": intro,
                "changes": changes,
                "button": title,
                "form": form,
                "expenses": list(queryset.select_related("company")[:200]),
                "count": queryset.count(),
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "action": action,
            }
            return TemplateResponse(request, "admin/expenses/expense/mark_synced.html", context)
        reason = form.cleaned_data["reason"]
        changed = 0
        for expense in queryset.filter(status__in=statuses):
            try:
                apply(expense=expense, by=user, reason=reason)
            except ExpenseRefused as refused:
                self.message_user(request, f"{expense}: {refused}", messages.ERROR)
                continue
            changed += 1
        self.message_user(request, f"{changed} expense(s) {done}: {reason}")
        skipped = queryset.count() - changed
        if skipped:
            self.message_user(
                request, f"{skipped} skipped: only {marked} can be marked.", messages.WARNING
            )
        return None

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[Expense]
    ) -> StreamingHttpResponse:
        """The queue download's columns, streamed, newest first."""
        return csv_response(
            filename="expenses.csv",
            header=EXPENSE_EXPORT_COLUMNS,
            rows=expenses_export_rows(expenses=queryset),
        )

    # Counting 200,000 rows on every page view is the slowest part of a change list.
    show_full_result_count = False

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "import-csv/",
                self.admin_site.admin_view(self.import_csv_view),
                name="expenses_expense_import_csv",
            )
        ]
        return custom + super().get_urls()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "can_import_csv": self.has_change_permission(request)}
        return super().changelist_view(request, extra_context=context)

    def import_csv_view(self, request: HttpRequest) -> HttpResponse:
        """Support imports a company's expenses from a CSV file and sees every row's answer."""
        # admin_view has already sent anyone who is not active staff to the login page.
        if not self.has_change_permission(request):
            raise PermissionDenied
        report: CsvImportReport | None = None
        if request.method == "POST":
            form = CsvImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    report = expenses_import_csv(
                        company=form.cleaned_data["company"],
                        upload=form.cleaned_data["file"],
                        by=request.user,  # type: ignore[arg-type]  # staff, so never anonymous
                    )
                except CsvRefused as exc:
                    form.add_error("file", str(exc))
                else:
                    level = messages.WARNING if report.refused else messages.SUCCESS
                    self.message_user(request, report.summary, level)
        else:
            form = CsvImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import expenses from CSV",
            "form": form,
            "report": report,
            "columns": COLUMNS,
            "required_columns": REQUIRED_COLUMNS,
            "max_rows": MAX_ROWS,
            "max_megabytes": MAX_BYTES // (1024 * 1024),
        }
        return TemplateResponse(request, "admin/expenses/expense/import_csv.html", context)


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    list_display = ["original_name", "expense", "content_type", "size", "created_at"]
    list_filter = ["content_type"]
    search_fields = ["original_name", "sha256", "expense__id", "expense__merchant_name"]
    list_select_related = ["expense"]
    raw_id_fields = ["expense", "uploaded_by"]
    readonly_fields = ["sha256", "size", "content_type", "created_at"]


@admin.register(CategorizationRule)
class CategorizationRuleAdmin(TrackingOptionsAdmin, HistoryAdmin):
    list_display = [
        "pattern",
        "match",
        "company",
        "transaction_type",
        "account",
        "priority",
        "is_active",
    ]
    list_filter = ["match", "is_active", "transaction_type"]
    search_fields = ["pattern", "company__name"]
    list_select_related = ["company", "account"]
    raw_id_fields = ["company", "account", "tax_rate", "created_by"]
    filter_horizontal = ["tracking_categories"]

    def company_id_of(self, obj: CategorizationRule) -> int:
        return obj.company_id


@admin.register(ExpenseEvent)
class ExpenseEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "expense",
        "kind",
        "actor",
        "as_staff",
        "from_status",
        "to_status",
    ]
    list_filter = ["kind", "to_status", "as_staff"]
    search_fields = ["expense__id", "expense__merchant_name", "message"]
    list_select_related = ["expense", "actor"]
    readonly_fields = [f.name for f in ExpenseEvent._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class ExpenseLineForm(forms.ModelForm):
    def clean_expense(self) -> Expense:
        expense: Expense = self.cleaned_data["expense"]
        if reason := ledger_lock(expense):
            raise forms.ValidationError(reason)
        return expense


@admin.register(ExpenseLine)
class ExpenseLineAdmin(LedgerLockedAdmin, TrackingOptionsAdmin):
    form = ExpenseLineForm
    list_display = ["expense", "position", "net_amount", "tax_amount", "account", "tax_rate"]
    search_fields = ["expense__id", "expense__merchant_name", "account__name", "account__codat_id"]
    list_select_related = ["expense", "account", "tax_rate"]
    raw_id_fields = ["expense", "account", "tax_rate"]
    filter_horizontal = ["tracking_categories"]
    actions = ["delete_selected"]
    expense_path = "expense"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExpenseLine]:
        return super().get_queryset(request).prefetch_related(_TRACKING)

    def company_id_of(self, obj: ExpenseLine) -> int:
        return obj.expense.company_id

    def has_change_permission(self, request: HttpRequest, obj: ExpenseLine | None = None) -> bool:
        if obj is not None and ledger_lock(obj.expense):
            return False  # shown read-only, with the reason above it
        return super().has_change_permission(request, obj)


class IngestTokenForm(forms.ModelForm):
    """A key is for one company unless support ticks "All companies" on purpose: an empty
    company alone is refused, not taken to mean every company."""

    all_companies = forms.BooleanField(
        required=False,
        label="All companies",
        help_text="Warning: the key may then send expenses for every company, today's and "
        "those added later. Leave it off and choose the company the card platform sends for, "
        "unless it really sends for all of them.",
    )

    class Meta:
        model = IngestToken
        fields = ["name", "company", "expires_at", "revoked_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["all_companies"].initial = self.instance.company_id is None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        company, everyone = cleaned.get("company"), cleaned.get("all_companies")
        if company is None and not everyone and "company" not in self.errors:
            self.add_error(
                "company", "Choose the company this key sends expenses for, or tick All companies."
            )
        if company is not None and everyone:
            self.add_error("all_companies", "Choose a company or All companies, not both.")
        expires_at = cleaned.get("expires_at")
        if self.instance.pk is None and expires_at is not None and expires_at <= timezone.now():
            self.add_error(
                "expires_at",
                "This moment has passed: the key would never work. Choose a later one.",
            )
        return cleaned


@admin.register(IngestToken)
class IngestTokenAdmin(HistoryAdmin):
    form = IngestTokenForm
    list_display = [
        "name",
        "prefix",
        "scope",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "prefix", "company__name"]
    list_select_related = ["company"]
    raw_id_fields = ["company"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def get_fields(self, request: HttpRequest, obj: IngestToken | None = None) -> Any:
        if obj is None:  # a key revoked as it is made would be no key: revoke it later
            return ["name", "company", "all_companies", "expires_at"]
        return [
            "name",
            "company",
            "all_companies",
            "prefix",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]

    @admin.display(description="Company", ordering="company__name")
    def scope(self, obj: IngestToken) -> str:
        return str(obj.company) if obj.company_id is not None else "All companies"

    def save_model(
        self, request: HttpRequest, obj: IngestToken, form: object, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:
            token, raw = ingest_token_create(
                name=obj.name, company=obj.company, expires_at=obj.expires_at
            )
            obj.pk, obj.prefix, obj.key_hash = token.pk, token.prefix, token.key_hash
            obj.created_at = token.created_at
            self.message_user(
                request,
                f"The key for '{token.name}' is {raw} — copy it now: it is shown only once.",
                messages.WARNING,
            )
        if obj.company_id is None:
            self.message_user(
                request,
                f"'{obj.name}' may send expenses for every company. Choose its company instead "
                "unless the card platform really sends for all of them.",
                messages.WARNING,
            )
