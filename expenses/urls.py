from django.urls import path

from expenses import api

urlpatterns = [
    path("api/v1/openapi.json", api.ingest_openapi, name="api-openapi"),
    path(
        "api/v1/companies/<int:company_id>/expenses",
        api.ingest_expenses,
        name="api-ingest-expenses",
    ),
]
