"""Support's view of the sandbox's state: what the emulated Codat and platforms hold."""

from __future__ import annotations

from django.contrib import admin

from sandbox.models import (
    SandboxCompany,
    SandboxConnection,
    SandboxDataset,
    SandboxLedgerRecord,
    SandboxSettings,
    SandboxSync,
    SandboxSyncTransaction,
    SandboxWebhookDelivery,
)


class ConnectionInline(admin.TabularInline):
    model = SandboxConnection
    extra = 0
    fields = ("id", "platform_name", "source_type", "status", "created", "last_sync")
    readonly_fields = fields


@admin.register(SandboxCompany)
class SandboxCompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "expenses_api", "created")
    search_fields = ("name", "id")
    inlines = [ConnectionInline]


@admin.register(SandboxConnection)
class SandboxConnectionAdmin(admin.ModelAdmin):
    list_display = ("id", "company", "platform_name", "status", "created")
    list_filter = ("platform_name", "status", "source_type")
    search_fields = ("id", "company__id", "company__name")
    list_select_related = ("company",)


@admin.register(SandboxDataset)
class SandboxDatasetAdmin(admin.ModelAdmin):
    list_display = ("id", "company", "created", "synced")
    search_fields = ("id", "company__id")
    list_select_related = ("company",)


class TransactionInline(admin.TabularInline):
    model = SandboxSyncTransaction
    extra = 0
    fields = ("transaction_id", "tx_type", "status", "message")
    readonly_fields = fields


@admin.register(SandboxSync)
class SandboxSyncAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "company",
        "seq",
        "kind",
        "state",
        "status_code",
        "status_text",
        "created",
    )
    list_filter = ("state", "status_code", "kind")
    search_fields = ("id", "company__id", "company__name")
    list_select_related = ("company",)
    inlines = [TransactionInline]


@admin.register(SandboxLedgerRecord)
class SandboxLedgerRecordAdmin(admin.ModelAdmin):
    list_display = (
        "transaction_id",
        "company",
        "record_type",
        "kind",
        "type",
        "currency",
        "total",
        "attachment_count",
        "api",
        "written_at",
    )
    list_filter = ("kind", "api", "type", "record_type")
    search_fields = ("transaction_id", "company__id", "sync__id")
    list_select_related = ("company",)


@admin.register(SandboxWebhookDelivery)
class SandboxWebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "event_type", "status", "attempts", "last_status_code", "created")
    readonly_fields = ("history",)
    # The signing secret is the portal's webhook secret: never shown, even in the emulator.
    exclude = ("secret",)
    list_filter = ("status", "event_type")
    search_fields = ("id", "sync__id", "company__id")


@admin.register(SandboxSettings)
class SandboxSettingsAdmin(admin.ModelAdmin):
    # Set through `PUT _sandbox/settings`; the admin says whether one is set, never its value.
    exclude = ("webhook_secret",)
    readonly_fields = ("webhook_secret_set",)

    @admin.display(boolean=True, description="Webhook secret set")
    def webhook_secret_set(self, obj: SandboxSettings) -> bool:
        return bool(obj.webhook_secret)
