from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from companies.admin import CompanyAdmin
from companies.models import Company, SwitchChannel
from companies.platforms import ApiGeneration
from companies.staff import ACT_ON_EVERY_COMPANY
from expenses.export import csv_response
from gateway.admin import company_syncs_link
from syncs.claim import PushRefused
from syncs.cutover import expenses_api_switch
from syncs.models import (
    PushBatch,
    PushBatchItem,
    ReceiptUpload,
    Sync,
    SyncTransaction,
    UploadState,
    WebhookEvent,
    WorkerHeartbeat,
)
from syncs.poll import sync_poll_soon
from syncs.push_requests import company_push_request
from syncs.receipt_uploads import receipt_upload_retry
from syncs.selectors import SYNC_RESULT_EXPORT_COLUMNS, sync_transactions_export_rows


def _sync_link(sync: Sync | None) -> SafeString | str:
    """A Codat sync id (or our number) linked to the sync's portal page."""
    if sync is None:
        return "–"
    url = reverse("sync-detail", args=[sync.company_id, sync.pk])
    return format_html('<a href="{}">{}</a>', url, sync.codat_sync_id or f"#{sync.pk}")


# Companies one "Move to the newer Expenses API" takes: each is checked (and moved) in turn.
MOVE_AT_ONCE = 100

# Django's way for one app to extend another's admin: register a subclass in its place. The
# companies admin cannot offer the push itself, the pipeline being a layer above it.
admin.site.unregister(Company)


@admin.register(Company)
class CompanyPushAdmin(CompanyAdmin):
    """The companies admin, with the push of the selected companies' approved expenses."""

    actions = [*(CompanyAdmin.actions or ()), "push_now", "move_to_newer_expenses_api"]

    @admin.action(description="Push approved expenses now", permissions=["change"])
    def push_now(self, request: HttpRequest, queryset: QuerySet[Company]) -> None:
        for company in queryset:
            try:
                waiting = company_push_request(company=company, by=request.user)
            except PushRefused as refused:
                self.message_user(request, f"{company.name}: {refused}", messages.WARNING)
            else:
                self.message_user(request, f"{company.name}: pushing {waiting} expenses.")

    @admin.action(description="Move to the newer Expenses API…", permissions=["change"])
    def move_to_newer_expenses_api(
        self, request: HttpRequest, queryset: QuerySet[Company]
    ) -> TemplateResponse | None:
        """Shows each company's dry run first; the confirmation moves those that can move now
        (`syncs.cutover`), each recorded on its admin history."""
        companies = list(queryset.order_by("name")[:MOVE_AT_ONCE])
        if "apply" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Move to the newer Expenses API",
                "reports": [
                    expenses_api_switch(company, ApiGeneration.EXPENSES, by_user=None, dry_run=True)
                    for company in companies
                ],
                "more": max(0, queryset.count() - len(companies)),
                "selected": [str(company.pk) for company in companies],
                "action": "move_to_newer_expenses_api",
            }
            return TemplateResponse(
                request, "admin/companies/company/move_to_newer_api.html", context
            )
        user = request.user
        assert isinstance(user, User)  # the admin only serves signed-in staff
        for company in companies:
            report = expenses_api_switch(
                company, ApiGeneration.EXPENSES, by_user=user, via=SwitchChannel.ADMIN
            )
            level = messages.WARNING if report.refused else messages.SUCCESS
            self.message_user(request, " ".join(report.lines()), level)
            if report.switch is not None:
                self.log_change(request, company, report.lines()[0])
        return None


class StuckFilter(admin.SimpleListFilter):
    """The dashboard's "stuck or long-running" tile: running over 10 minutes, or code 1010."""

    title = "stuck or long-running"
    parameter_name = "stuck"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Stuck or long-running now")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        from syncs.dashboard import stuck_syncs_q

        if self.value() == "yes":
            return queryset.filter(stuck_syncs_q(now=timezone.now()))
        return queryset


class PushBatchItemInline(admin.TabularInline):
    model = PushBatchItem
    extra = 0
    raw_id_fields = ["expense"]
    readonly_fields = ["expense"]
    can_delete = False


@admin.register(PushBatchItem)
class PushBatchItemAdmin(admin.ModelAdmin):
    list_display = ["batch", "expense"]
    search_fields = ["batch__id", "batch__dataset_id", "expense__id"]
    list_select_related = ["batch", "expense"]
    raw_id_fields = ["batch", "expense"]


@admin.register(PushBatch)
class PushBatchAdmin(admin.ModelAdmin):
    list_display = ["id", "company", "state", "dataset_link", "sync_link", "attempts", "created_at"]
    list_filter = ["state", "expenses_api", "endpoint"]
    search_fields = ["id", "dataset_id", "idempotency_key", "company__name", "sync__codat_sync_id"]
    list_select_related = ["company", "sync"]
    raw_id_fields = ["company", "sync"]
    # The generation, endpoint and key are what the batch was written and sent under: never
    # edited.
    readonly_fields = [
        "state",
        "expenses_api",
        "endpoint",
        "dataset_id",
        "idempotency_key",
        "key_first_sent_at",
        "attempts",
        "last_error",
        "claimed_at",
        "posted_at",
    ]
    inlines = [PushBatchItemInline]

    @admin.display(description="Sync", ordering="sync__requested_at")
    def sync_link(self, obj: PushBatch) -> SafeString | str:
        return _sync_link(obj.sync)

    @admin.display(description="Dataset id", ordering="dataset_id")
    def dataset_link(self, obj: PushBatch) -> SafeString | str:
        """A dataset's page is the page of the sync that carried it."""
        if obj.dataset_id is None:
            return "–"
        if obj.sync is None:
            return str(obj.dataset_id)
        url = reverse("sync-detail", args=[obj.sync.company_id, obj.sync_id])
        return format_html('<a href="{}">{}</a>', url, obj.dataset_id)


class SyncTransactionInline(admin.TabularInline):
    model = SyncTransaction
    extra = 0
    fields = readonly_fields = (
        "transaction_id",
        "expense",
        "status",
        "message",
        "integration_type",
        "fetched_at",
    )
    can_delete = False


class ReceiptUploadInline(admin.TabularInline):
    model = ReceiptUpload
    extra = 0
    fields = readonly_fields = (
        "receipt",
        "state",
        "attempts",
        "codat_attachment_id",
        "last_error",
    )
    can_delete = False


@admin.register(Sync)
class SyncAdmin(admin.ModelAdmin):
    list_display = [
        "codat_sync_id",
        "portal_link",
        "company",
        "kind",
        "state",
        "status_code",
        "status_text",
        "requested_at",
        "completed_at",
        "is_long_running",
    ]
    list_filter = [
        StuckFilter,
        "state",
        "kind",
        "expenses_api",
        "status_code",
        "is_long_running",
        "company__platform",
    ]
    search_fields = ["codat_sync_id", "company__name", "company__codat_company_id"]
    list_select_related = ["company"]
    date_hierarchy = "requested_at"
    raw_id_fields = ["company"]
    readonly_fields = [
        "codat_sync_id",
        "expenses_api",
        "state",
        "status_code",
        "status_text",
        "error_message",
        "exception_message",
        "data_pushed",
        "configuration_snapshot",
        "requested_at",
        "codat_sync_utc",
        "completed_at",
        "last_polled_at",
        "poll_count",
        "results_fetched_at",
        "transactions_completed",
        "transactions_failed",
        "portal_link",
    ]
    inlines = [SyncTransactionInline, ReceiptUploadInline]
    actions = ["repoll_now", "retry_failed_items", "reupload_failed_receipts", "export_results_csv"]

    @admin.display(description="Portal page")
    def portal_link(self, obj: Sync) -> SafeString | str:
        return _sync_link(obj if obj.pk else None)

    @admin.action(description="Upload again the receipts that failed", permissions=["change"])
    def reupload_failed_receipts(self, request: HttpRequest, queryset: QuerySet[Sync]) -> None:
        uploads = ReceiptUpload.objects.filter(sync__in=queryset, state=UploadState.GAVE_UP)
        count = 0
        for upload in uploads:
            receipt_upload_retry(upload=upload)
            count += 1
        retrying = ReceiptUpload.objects.filter(sync__in=queryset, state=UploadState.FAILED).count()
        self.message_user(request, f"{count} failed receipt upload(s) will be sent again.")
        if retrying:
            self.message_user(
                request,
                f"{retrying} upload(s) failed recently and are retried on their own; "
                "they were left as they are.",
                messages.WARNING,
            )

    def has_push_permission(self, request: HttpRequest) -> bool:
        """Sending expenses again is a push: it needs what pushing needs everywhere, in the
        portal too (companies.staff)."""
        return request.user.has_perm(ACT_ON_EVERY_COMPANY.codename)

    @admin.action(description="Retry failed items (those valid now)", permissions=["push"])
    def retry_failed_items(self, request: HttpRequest, queryset: QuerySet[Sync]) -> None:
        from syncs.retry import sync_retry_failed

        for sync in queryset.select_related("company"):
            try:
                sent, still = sync_retry_failed(sync=sync, by=request.user)
            except PushRefused as refused:
                self.message_user(request, f"{sync}: {refused}", messages.WARNING)
                continue
            text = f"{sync}: {sent} sent again"
            if still:
                text += f"; {still} still need fixing in the workspace"
            self.message_user(request, text + ".")

    @admin.action(description="Export the results of the selected as CSV", permissions=["view"])
    def export_results_csv(
        self, request: HttpRequest, queryset: QuerySet[Sync]
    ) -> StreamingHttpResponse:
        return csv_response(
            filename="sync-results.csv",
            header=SYNC_RESULT_EXPORT_COLUMNS,
            rows=sync_transactions_export_rows(
                results=SyncTransaction.objects.filter(sync__in=queryset).order_by(
                    "sync_id", "status", "transaction_id"
                )
            ),
        )

    @admin.action(description="Re-poll now", permissions=["change"])
    def repoll_now(self, request: HttpRequest, queryset: QuerySet[Sync]) -> None:
        polled = sum(sync_poll_soon(sync=sync) for sync in queryset)
        skipped = queryset.count() - polled
        self.message_user(request, f"{polled} sync(s) will be polled now.")
        if skipped:
            self.message_user(
                request,
                f"{skipped} sync(s) skipped: only syncs in progress are polled.",
                messages.WARNING,
            )


@admin.register(SyncTransaction)
class SyncTransactionAdmin(admin.ModelAdmin):
    list_display = ["transaction_id", "sync_link", "company", "status", "message", "fetched_at"]
    list_filter = [
        "status",
        "integration_type",
        "sync__company__platform",
        "sync__status_code",
    ]
    search_fields = ["transaction_id", "sync__codat_sync_id", "message", "cause"]
    list_select_related = ["sync", "sync__company"]
    raw_id_fields = ["sync", "expense"]
    show_full_result_count = False
    actions = ["export_csv"]

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[SyncTransaction]
    ) -> StreamingHttpResponse:
        return csv_response(
            filename="sync-results.csv",
            header=SYNC_RESULT_EXPORT_COLUMNS,
            rows=sync_transactions_export_rows(
                results=queryset.order_by("sync_id", "transaction_id")
            ),
        )

    @admin.display(description="Sync", ordering="sync__requested_at")
    def sync_link(self, obj: SyncTransaction) -> SafeString | str:
        return _sync_link(obj.sync)

    @admin.display(description="Company")
    def company(self, obj: SyncTransaction) -> SafeString | str:
        return company_syncs_link(obj.sync.company_id, obj.sync.company)


@admin.register(ReceiptUpload)
class ReceiptUploadAdmin(admin.ModelAdmin):
    list_display = [
        "receipt",
        "sync_link",
        "state",
        "attempts",
        "codat_attachment_id",
        "uploaded_at",
    ]
    list_filter = ["state"]
    search_fields = ["codat_attachment_id", "receipt__expense__id", "sync__codat_sync_id"]
    list_select_related = ["receipt", "sync", "sync__company"]
    raw_id_fields = ["receipt", "sync"]
    readonly_fields = ["attempts", "codat_attachment_id", "last_error", "uploaded_at"]
    actions = ["upload_again"]

    @admin.display(description="Sync")
    def sync_link(self, obj: ReceiptUpload) -> SafeString | str:
        return _sync_link(obj.sync)

    @admin.action(description="Upload again", permissions=["change"])
    def upload_again(self, request: HttpRequest, queryset: QuerySet[ReceiptUpload]) -> None:
        ready = queryset.filter(state__in=[UploadState.GAVE_UP, UploadState.UPLOADED])
        count = 0
        for upload in ready:
            receipt_upload_retry(upload=upload)
            count += 1
        self.message_user(request, f"{count} upload(s) will be sent again.")
        if queryset.count() > count:
            self.message_user(
                request,
                "Uploads waiting, failed (will retry) or uploading were left as they are.",
                messages.WARNING,
            )


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = [
        "webhook_id",
        "event_type",
        "verified",
        "codat_sync_id",
        "received_at",
        "processed_at",
    ]
    list_filter = ["event_type", "verified"]
    search_fields = ["webhook_id", "codat_sync_id", "codat_company_id"]
    readonly_fields = [*(f.name for f in WebhookEvent._meta.fields), "portal_links"]

    @admin.display(description="In the portal")
    def portal_links(self, obj: WebhookEvent) -> SafeString | str:
        sync = (
            Sync.objects.filter(codat_sync_id=obj.codat_sync_id).first()
            if obj.codat_sync_id
            else None
        )
        if sync is not None:
            return _sync_link(sync)
        company = (
            Company.objects.filter(codat_company_id=obj.codat_company_id).first()
            if obj.codat_company_id
            else None
        )
        return company_syncs_link(company.pk, company) if company else "–"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["queue", "hostname", "last_seen_at"]
    readonly_fields = ["queue", "hostname", "last_seen_at"]
