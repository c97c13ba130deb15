"""URLs when the sandbox is served alone (`manage.py runsandbox`): the same base path as when it is
embedded in the portal, so only the host and port of CODAT_BASE_URL change."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("codat-sandbox/", include("sandbox.urls")),
]
