from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from companies.models import Company
from expenses.csv_import import (
    COLUMNS,
    MAX_BYTES,
    MAX_ROWS,
    REQUIRED_COLUMNS,
    CsvImportReport,
    CsvRefused,
    expenses_import_csv,
)
from expenses.ingest import ingest_token_create
from expenses.models import (
    CategorizationRule,
    Expense,
    ExpenseEvent,
    ExpenseLine,
    IngestToken,
    Receipt,
)


class ExpenseLineInline(admin.TabularInline):
    model = ExpenseLine
    extra = 0
    raw_id_fields = ["account", "tax_rate"]
    filter_horizontal = ["tracking_categories"]


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
class ExpenseAdmin(admin.ModelAdmin):
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
    actions = ["mark_as_synced"]

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
        from expenses.services import ExpenseRefused, expense_mark_synced

        user = request.user
        assert isinstance(user, User)  # the admin only serves signed-in staff
        form = MarkSyncedForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Mark as synced outside the portal",
                "form": form,
                "expenses": list(queryset.select_related("company")[:200]),
                "count": queryset.count(),
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "action": "mark_as_synced",
            }
            return TemplateResponse(request, "admin/expenses/expense/mark_synced.html", context)
        reason = form.cleaned_data["reason"]
        marked = 0
        for expense in queryset.filter(status="failed"):
            try:
                expense_mark_synced(expense=expense, by=user, reason=reason)
            except ExpenseRefused as refused:
                self.message_user(request, f"{expense}: {refused}", messages.ERROR)
                continue
            marked += 1
        self.message_user(request, f"{marked} expense(s) marked as synced: {reason}")
        skipped = queryset.count() - marked
        if skipped:
            self.message_user(
                request, f"{skipped} skipped: only failed expenses can be marked.", messages.WARNING
            )
        return None

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
class CategorizationRuleAdmin(admin.ModelAdmin):
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


@admin.register(ExpenseEvent)
class ExpenseEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "expense", "kind", "actor", "from_status", "to_status"]
    list_filter = ["kind", "to_status"]
    search_fields = ["expense__id", "expense__merchant_name", "message"]
    list_select_related = ["expense", "actor"]
    readonly_fields = [f.name for f in ExpenseEvent._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ExpenseLine)
class ExpenseLineAdmin(admin.ModelAdmin):
    list_display = ["expense", "position", "net_amount", "tax_amount", "account", "tax_rate"]
    search_fields = ["expense__id", "expense__merchant_name", "account__name", "account__codat_id"]
    list_select_related = ["expense", "account", "tax_rate"]
    raw_id_fields = ["expense", "account", "tax_rate"]
    filter_horizontal = ["tracking_categories"]


@admin.register(IngestToken)
class IngestTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "company", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "company__name"]
    list_select_related = ["company"]
    raw_id_fields = ["company"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["name", "company", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(
        self, request: HttpRequest, obj: IngestToken, form: object, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw = ingest_token_create(name=obj.name, company=obj.company)
        obj.pk, obj.prefix, obj.key_hash = token.pk, token.prefix, token.key_hash
        obj.created_at = token.created_at
        self.message_user(
            request,
            f"The key for '{token.name}' is {raw} — copy it now: it is shown only once.",
            messages.WARNING,
        )
