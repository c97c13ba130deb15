from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from accounts.views import SignInView, enrol, personal_settings, second_step
from sfe_portal.favicon import favicon
from sfe_portal.health import healthz, readyz
from syncs.webhook_views import codat_webhook

urlpatterns: list[URLPattern | URLResolver] = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("favicon.ico", favicon, name="favicon"),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/login/code/", second_step, name="signin-code"),
    path("accounts/login/authenticator/", enrol, name="signin-enrol"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/settings/", personal_settings, name="personal-settings"),
    path("admin/", admin.site.urls),
    path("webhooks/codat/", codat_webhook, name="codat-webhook"),
    path("", include("companies.urls")),
    path("", include("expenses.urls")),
    path("", include("syncs.urls")),
    path("", include("notices.urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("codat-sandbox/", include("sandbox.urls")))
