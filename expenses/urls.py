from django.urls import path

from expenses import api, views

urlpatterns = [
    path("api/v1/openapi.json", api.ingest_openapi, name="api-openapi"),
    path(
        "api/v1/companies/<int:company_id>/expenses",
        api.ingest_expenses,
        name="api-ingest-expenses",
    ),
    path("companies/<int:company_id>/expenses/", views.queue, name="expense-queue"),
    path("companies/<int:company_id>/expenses/bulk/", views.bulk, name="expense-bulk"),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/code/",
        views.code,
        name="expense-code",
    ),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/approve/",
        views.approve,
        name="expense-approve",
    ),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/exclude/",
        views.exclude,
        name="expense-exclude",
    ),
]
