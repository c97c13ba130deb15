from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from companies.models import (
    BankAccount,
    Company,
    CompanyConfiguration,
    Connection,
    Customer,
    ExpensesApiSwitch,
    Invitation,
    LedgerAccount,
    Membership,
    Supplier,
    TaxRate,
    TrackingCategory,
)
from companies.selectors import companies_still_on_v1
from sfe_portal.history_admin import HistoryAdmin


def tracking_options_for(
    field: forms.Field | None, *, company_id: int | None, chosen: QuerySet[Any] | None = None
) -> None:
    """Makes a tracking-categories select of an admin form offer the options of one company,
    each named with its category as the portal names it (`TrackingCategory.__str__`), read in
    one query.

    Categories with options under them are not options themselves, unless `chosen` (a query of
    category ids) already holds them: a select drops what it does not offer on the next save.
    With no company (an add page), every company's options are offered, each with its company's
    name first, since several companies have the same departments.
    """
    if not isinstance(field, forms.ModelMultipleChoiceField):
        return  # not on this form: read-only there
    offered = Q(has_children=False)
    if chosen is not None:
        offered |= Q(pk__in=chosen)
    options = TrackingCategory.objects.filter(offered).select_related("parent")
    if company_id is not None:
        field.queryset = options.filter(company_id=company_id).order_by("parent__name", "name")
        field.label_from_instance = str  # type: ignore[assignment]
    else:
        field.queryset = options.select_related("company").order_by(
            "company__name", "parent__name", "name"
        )
        field.label_from_instance = _tracking_label_with_company  # type: ignore[assignment]


def _tracking_label_with_company(category: TrackingCategory) -> str:
    return f"{category.company.name} · {category}"


class ConnectionInline(admin.TabularInline):
    model = Connection
    extra = 0
    fields = readonly_fields = (
        "kind",
        "codat_connection_id",
        "platform_key",
        "status",
        "link_url",
        "deleted_at",
    )
    can_delete = False
    show_change_link = True


class MembershipForm(forms.ModelForm):
    """Staff accounts act by their permissions and are never members (companies.staff)."""

    class Meta:
        model = Membership
        fields = ["user", "company", "role"]

    def clean_user(self) -> Any:
        user = self.cleaned_data["user"]
        if user is not None and user.is_staff:
            raise forms.ValidationError(
                "A staff account cannot be a member of a company: support works through its "
                "permissions (e.g. the Support groups)."
            )
        return user


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 0
    autocomplete_fields = ["user"]


class CompanyConfigurationInline(admin.StackedInline):
    model = CompanyConfiguration
    extra = 0
    raw_id_fields = ["bank_account", "supplier", "customer"]
    readonly_fields = ["saved_to_codat_at", "updated_by", "updated_at"]


class ExpensesApiSwitchInline(admin.TabularInline):
    """Who moved the company between Codat's expenses APIs, and when: written by the cut-over
    only, never here."""

    model = ExpensesApiSwitch
    extra = 0
    fields = readonly_fields = (
        "switched_at",
        "from_api",
        "to_api",
        "switched_by",
        "via",
        "sent_back_to_coding",
    )
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StillOnV1Filter(admin.SimpleListFilter):
    """The dashboard's "still on v1" tile: companies to move before Codat switches v1 off
    (archived ones never push, so they are not counted)."""

    title = "still to move to the newer Expenses API"
    parameter_name = "to_move"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("v1", "Still on Sync for Expenses v1")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "v1":
            return queryset.filter(companies_still_on_v1())
        return queryset


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "platform",
        "status",
        "base_currency",
        "codat_company_id",
        "master_data_refreshed_at",
        "auto_push",
        "expenses_api",
        "portal_links",
    ]
    list_filter = ["platform", "status", "auto_push", "expenses_api", StillOnV1Filter]
    search_fields = ["name", "codat_company_id"]
    readonly_fields = [
        "codat_company_id",
        # Switched only by the cut-over, which checks that nothing is in flight first.
        "expenses_api",
        "portal_links",
        "status_changed_at",
        "created_at",
        "updated_at",
    ]
    inlines = [
        ConnectionInline,
        CompanyConfigurationInline,
        MembershipInline,
        ExpensesApiSwitchInline,
    ]
    # The syncs admin adds "Push now" (syncs/admin.py): the push is a layer above this app.
    actions = ["refresh_master_data"]

    @admin.action(
        description="Refresh mapping options and master data from Codat", permissions=["change"]
    )
    def refresh_master_data(self, request: HttpRequest, queryset: QuerySet[Company]) -> None:
        from companies.refresh import company_refresh_request

        companies = list(queryset.exclude(codat_company_id=None))
        for company in companies:
            company_refresh_request(company=company)
        self.message_user(
            request, f"Refresh queued for {len(companies)} companies.", messages.SUCCESS
        )
        skipped = queryset.filter(codat_company_id=None).count()
        if skipped:
            self.message_user(
                request,
                f"{skipped} skipped: not connected to Codat yet (connect them first).",
                messages.WARNING,
            )

    @admin.display(description="In the portal")
    def portal_links(self, obj: Company) -> SafeString | str:
        if obj.pk is None:
            return "–"
        return format_html(
            '<a href="{}">Company</a> · <a href="{}">Syncs</a>',
            reverse("company-detail", args=[obj.pk]),
            reverse("sync-list", args=[obj.pk]),
        )


@admin.register(ExpensesApiSwitch)
class ExpensesApiSwitchAdmin(admin.ModelAdmin):
    """The cut-over's record: read only (the cut-over writes it, `manage.py expenses_api`)."""

    list_display = [
        "company",
        "from_api",
        "to_api",
        "switched_at",
        "switched_by",
        "via",
        "sent_back_to_coding",
    ]
    list_filter = ["to_api", "via"]
    search_fields = ["company__name", "company__codat_company_id", "switched_by__username"]
    list_select_related = ["company", "switched_by"]
    date_hierarchy = "switched_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = [
        "company",
        "kind",
        "status",
        "platform_key",
        "codat_connection_id",
        "created_at",
    ]
    list_filter = ["kind", "status", "platform_key"]
    search_fields = ["codat_connection_id", "company__name", "company__codat_company_id"]
    list_select_related = ["company"]
    readonly_fields = [
        "codat_connection_id",
        "platform_key",
        "link_url",
        "status_changed_at",
        "last_checked_at",
        "created_at",
    ]
    raw_id_fields = ["company"]


@admin.register(Membership)
class MembershipAdmin(HistoryAdmin):
    form = MembershipForm
    list_display = ["user", "company", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "company__name"]
    list_select_related = ["user", "company"]
    autocomplete_fields = ["user", "company"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made from the company's settings page (the link is signed there); the
    admin shows them and can delete one, which withdraws its link."""

    list_display = [
        "email",
        "company",
        "role",
        "invited_by",
        "invited_as_staff",
        "created_at",
        "expires_at",
        "accepted_at",
    ]
    list_filter = ["role", "invited_as_staff"]
    search_fields = ["email", "company__name"]
    list_select_related = ["company", "invited_by"]
    exclude = ["token"]
    readonly_fields = [
        "company",
        "email",
        "role",
        "invited_by",
        "invited_as_staff",
        "expires_at",
        "accepted_at",
        "accepted_by",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class MasterDataAdmin(admin.ModelAdmin):
    list_filter = ["status", "is_deleted"]
    search_fields = ["codat_id", "name", "company__name", "company__codat_company_id"]
    list_select_related = ["company"]
    raw_id_fields = ["company"]
    readonly_fields = ["refreshed_at", "missing_since"]


@admin.register(LedgerAccount)
class LedgerAccountAdmin(MasterDataAdmin):
    list_display = [
        "nominal_code",
        "name",
        "company",
        "account_type",
        "currency",
        "is_bank_account",
        "status",
        "is_deleted",
    ]
    list_filter = ["account_type", "is_bank_account", *MasterDataAdmin.list_filter]
    search_fields = [*MasterDataAdmin.search_fields, "nominal_code"]


# A category's options sort with it.
_CATEGORY_NAME = Coalesce("parent__name", "name")


@admin.register(TrackingCategory)
class TrackingCategoryAdmin(MasterDataAdmin):
    list_display = ["option", "company", "has_children", "status", "is_deleted"]
    list_select_related = ["company", "parent"]
    raw_id_fields = ["company", "parent"]
    # Each company's category, then its options (Django takes expressions; the stubs only names).
    ordering: ClassVar[Any] = [
        _CATEGORY_NAME.asc(),
        "company__name",
        F("parent").asc(nulls_first=True),
        "name",
    ]

    @admin.display(description="Tracking option", ordering=_CATEGORY_NAME)
    def option(self, obj: TrackingCategory) -> str:
        return str(obj)  # named with its category, read with it (list_select_related)


@admin.register(TaxRate)
class TaxRateAdmin(MasterDataAdmin):
    list_display = ["name", "code", "effective_rate", "company", "status", "is_deleted"]
    search_fields = [*MasterDataAdmin.search_fields, "code"]


@admin.register(Supplier)
class SupplierAdmin(MasterDataAdmin):
    list_display = ["name", "company", "default_currency", "status", "is_deleted"]


@admin.register(Customer)
class CustomerAdmin(MasterDataAdmin):
    list_display = ["name", "company", "default_currency", "status", "is_deleted"]


@admin.register(BankAccount)
class BankAccountAdmin(MasterDataAdmin):
    list_display = ["name", "company", "account_type", "currency", "status", "is_deleted"]
    list_filter = ["account_type", *MasterDataAdmin.list_filter]


@admin.register(CompanyConfiguration)
class CompanyConfigurationAdmin(HistoryAdmin):
    list_display = ["company", "bank_account", "supplier", "customer", "saved_to_codat_at"]
    search_fields = ["company__name", "company__codat_company_id"]
    list_select_related = ["company", "bank_account", "supplier", "customer"]
    raw_id_fields = ["company", "bank_account", "supplier", "customer"]
    readonly_fields = ["saved_to_codat_at", "updated_by", "updated_at"]
