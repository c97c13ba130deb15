from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.forms import AdminSignInForm
from accounts.models import SignInFailure, SignInLockout

# The admin's own sign-in page counts failures and honours locks like the portal's.
admin.site.login_form = AdminSignInForm


@admin.register(SignInLockout)
class SignInLockoutAdmin(admin.ModelAdmin):
    list_display = ("scope", "key", "failures", "locked_at", "until", "lifted_at")
    list_filter = ("scope",)
    search_fields = ("key",)
    readonly_fields = ("scope", "key", "failures", "locked_at", "until", "lifted_at")
    actions = ["lift"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Lift the selected locks now", permissions=["change"])
    def lift(self, request: HttpRequest, queryset: QuerySet[SignInLockout]) -> None:
        now = services.clock()
        for lockout in queryset:
            services.signin_lockout_lift(lockout=lockout, now=now)
        messages.success(request, f"Lifted {queryset.count()} lock(s).")


@admin.register(SignInFailure)
class SignInFailureAdmin(admin.ModelAdmin):
    list_display = ("username", "ip", "at")
    search_fields = ("username", "ip")
    readonly_fields = ("username", "ip", "at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
