from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from syncs.follow import sync_poll_soon
from syncs.models import (
    CodatCallSlot,
    CodatExchange,
    PushBatch,
    PushBatchItem,
    ReceiptUpload,
    Sync,
    SyncTransaction,
    UploadState,
    WebhookEvent,
    WorkerHeartbeat,
)
from syncs.receipt_uploads import receipt_upload_retry


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
    list_display = ["id", "company", "state", "dataset_id", "sync", "attempts", "created_at"]
    list_filter = ["state"]
    search_fields = ["id", "dataset_id", "company__name", "sync__codat_sync_id"]
    list_select_related = ["company", "sync"]
    raw_id_fields = ["company", "sync"]
    readonly_fields = ["state", "dataset_id", "attempts", "last_error", "claimed_at", "posted_at"]
    inlines = [PushBatchItemInline]


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
        "company",
        "kind",
        "state",
        "status_code",
        "status_text",
        "requested_at",
        "completed_at",
        "is_long_running",
    ]
    list_filter = ["state", "kind", "status_code", "is_long_running", "company__platform"]
    search_fields = ["codat_sync_id", "company__name", "company__codat_company_id"]
    list_select_related = ["company"]
    date_hierarchy = "requested_at"
    raw_id_fields = ["company"]
    readonly_fields = [
        "codat_sync_id",
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
    ]
    inlines = [SyncTransactionInline, ReceiptUploadInline]
    actions = ["repoll_now", "retry_failed_items"]

    @admin.action(description="Retry failed items (those valid now)")
    def retry_failed_items(self, request: HttpRequest, queryset: QuerySet[Sync]) -> None:
        from syncs.push import PushRefused, sync_retry_failed

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

    @admin.action(description="Re-poll now")
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
    list_display = ["transaction_id", "sync", "status", "message", "fetched_at"]
    list_filter = ["status", "integration_type"]
    search_fields = ["transaction_id", "sync__codat_sync_id", "message"]
    list_select_related = ["sync", "sync__company"]
    raw_id_fields = ["sync", "expense"]


@admin.register(ReceiptUpload)
class ReceiptUploadAdmin(admin.ModelAdmin):
    list_display = ["receipt", "sync", "state", "attempts", "codat_attachment_id", "uploaded_at"]
    list_filter = ["state"]
    search_fields = ["codat_attachment_id", "receipt__expense__id", "sync__codat_sync_id"]
    list_select_related = ["receipt", "sync", "sync__company"]
    raw_id_fields = ["receipt", "sync"]
    readonly_fields = ["attempts", "codat_attachment_id", "last_error", "uploaded_at"]
    actions = ["upload_again"]

    @admin.action(description="Upload again")
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
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]


@admin.register(CodatExchange)
class CodatExchangeAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "method",
        "path",
        "status",
        "duration_ms",
        "correlation_id",
        "company",
    ]
    list_filter = ["method", "status"]
    search_fields = ["path", "correlation_id", "company__name", "company__codat_company_id"]
    list_select_related = ["company"]
    readonly_fields = [f.name for f in CodatExchange._meta.fields]
    show_full_result_count = False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["queue", "hostname", "last_seen_at"]
    readonly_fields = ["queue", "hostname", "last_seen_at"]


@admin.register(CodatCallSlot)
class CodatCallSlotAdmin(admin.ModelAdmin):
    """Who is talking to Codat for each company right now; deleting a row frees its slot."""

    list_display = ["company", "holder", "acquired_at", "leased_until"]
    list_select_related = ["company"]
    search_fields = ["company__name", "holder"]
    readonly_fields = ["company", "holder", "acquired_at", "leased_until"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
