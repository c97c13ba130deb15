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
        "companies/<int:company_id>/expenses/<uuid:expense_id>/",
        views.detail,
        name="expense-detail",
    ),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/lines/",
        views.lines,
        name="expense-lines",
    ),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/details/",
        views.details,
        name="expense-details",
    ),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/receipts/",
        views.receipt_upload,
        name="expense-receipt-upload",
    ),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/receipts/<int:receipt_id>/",
        views.receipt_file,
        name="expense-receipt-file",
    ),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/receipts/<int:receipt_id>/remove/",
        views.receipt_delete,
        name="expense-receipt-remove",
    ),
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
