from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from notices.models import DispatchState, DispatchStep, NoticeDelivery, NoticeDispatch, NoticeEvent
from notices.sending import dispatch_send_again


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DispatchStepInline(_ReadOnlyInline):
    model = DispatchStep
    fields = readonly_fields = ("at", "state", "note")


class NoticeEventInline(_ReadOnlyInline):
    model = NoticeEvent
    fields = readonly_fields = ("occurred_at", "kind", "key", "sync", "details")


class NoticeDeliveryInline(_ReadOnlyInline):
    model = NoticeDelivery
    fields = readonly_fields = ("sent_at", "channel", "recipients")


@admin.register(NoticeDispatch)
class NoticeDispatchAdmin(admin.ModelAdmin):
    """Every failure notice: what it said, to whom, and each move it made (read-only)."""

    list_display = ["id", "company", "kind", "state", "due_at", "attempts", "sent_at", "subject"]
    list_filter = ["state", "kind"]
    search_fields = ["company__name", "subject"]
    list_select_related = ["company"]
    readonly_fields = [
        "company",
        "kind",
        "state",
        "due_at",
        "digest_day",
        "attempts",
        "created_at",
        "sent_at",
        "last_error",
        "subject",
        "body",
    ]
    inlines = [DispatchStepInline, NoticeDeliveryInline, NoticeEventInline]
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Send again (notices that gave up)", permissions=["change"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[NoticeDispatch]) -> None:
        from notices.tasks import send_dispatch

        again = 0
        for dispatch in queryset.filter(state=DispatchState.FAILED):
            if dispatch_send_again(dispatch=dispatch):
                send_dispatch.delay(dispatch.pk)
                again += 1
        level = messages.SUCCESS if again else messages.WARNING
        self.message_user(request, f"{again} notices sent again (only those that gave up).", level)
