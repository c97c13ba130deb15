"""The sandbox's HTTP surface, mounted at /codat-sandbox/ (see CONTRACTS.md)."""

from django.urls import URLPattern, URLResolver

app_name = "sandbox"
urlpatterns: list[URLPattern | URLResolver] = []
