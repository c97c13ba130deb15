"""The exchange log and the call slots in the admin: support reads every exchange with Codat
(bodies shown through the redaction, whatever was stored) and sees who holds a company's slots."""

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from gateway.models import CodatCallSlot, CodatExchange
from gateway.redaction import redact


def company_syncs_link(company_id: int | None, label: Any) -> SafeString | str:
    """The company, linked to its syncs page (where support follows its work with Codat)."""
    if company_id is None:
        return "–"
    return format_html('<a href="{}">{}</a>', reverse("sync-list", args=[company_id]), label)


class ExchangePathFilter(admin.SimpleListFilter):
    """Which Codat operation an exchange was, by its path."""

    title = "operation"
    parameter_name = "operation"
    OPERATIONS = {
        "datasets": ("Expense datasets", Q(path__contains="/sync/expenses/data/")),
        "syncs": ("Syncs and their status", Q(path__contains="/syncs")),
        "transactions": ("Transaction results", Q(path__contains="/transactions")),
        "attachments": ("Attachments", Q(path__contains="/attachments")),
        "config": ("Configuration", Q(path__contains="/config")),
        "data": ("Accounting data reads", Q(path__contains="/data/") & ~Q(path__contains="/sync/")),
        "connections": ("Companies and connections", Q(path__contains="/connections")),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _) in self.OPERATIONS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        found = self.OPERATIONS.get(self.value() or "")
        return queryset.filter(found[1]) if found else queryset


@admin.register(CodatExchange)
class CodatExchangeAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "method",
        "redacted_path",
        "status",
        "duration_ms",
        "correlation_id",
        "company_link",
    ]
    list_filter = [
        "method",
        "status",
        ExchangePathFilter,
        ("company", admin.RelatedOnlyFieldListFilter),
    ]
    # "=correlation_id", "=idempotency_key": support pastes Codat's correlation id or a batch's
    # key and finds the exchanges at once.
    search_fields = [
        "=correlation_id",
        "=idempotency_key",
        "path",
        "company__name",
        "company__codat_company_id",
    ]
    list_select_related = ["company"]
    # Bodies are shown through `redact` only, whatever was stored before redaction existed.
    readonly_fields = (
        "created_at",
        "company_link",
        "method",
        "redacted_path",
        "status",
        "duration_ms",
        "correlation_id",
        "idempotency_key",
        "error_redacted",
        "request_redacted",
        "response_redacted",
    )
    fields = readonly_fields
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Path")
    def redacted_path(self, obj: CodatExchange) -> str:
        return redact(obj.path)

    @admin.display(description="Company")
    def company_link(self, obj: CodatExchange) -> SafeString | str:
        return company_syncs_link(obj.company_id, obj.company)

    @admin.display(description="Error")
    def error_redacted(self, obj: CodatExchange) -> str:
        return redact(obj.error)

    @admin.display(description="Request body")
    def request_redacted(self, obj: CodatExchange) -> SafeString:
        return format_html('<pre class="exchange-body">{}</pre>', redact(obj.request_body))

    @admin.display(description="Response body")
    def response_redacted(self, obj: CodatExchange) -> SafeString:
        return format_html('<pre class="exchange-body">{}</pre>', redact(obj.response_body))


@admin.register(CodatCallSlot)
class CodatCallSlotAdmin(admin.ModelAdmin):
    """Who is talking to Codat for each company right now; deleting a row frees its slot."""

    list_display = ["company", "holder", "acquired_at", "leased_until"]
    list_select_related = ["company"]
    search_fields = ["company__name", "holder"]
    readonly_fields = ["company", "holder", "acquired_at", "leased_until"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
