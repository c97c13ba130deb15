from django.urls import path, re_path

from expenses import api, views

urlpatterns = [
    # The companies pages: they show expense counts, so they are served by this app.
    path("", views.company_list, name="home"),
    path("companies/<int:company_id>/", views.company_detail, name="company-detail"),
    path("companies/<int:company_id>/history/", views.company_history_page, name="company-history"),
    path("api/v1/openapi.json", api.ingest_openapi, name="api-openapi"),
    path(
        "api/v1/companies/<int:company_id>/expenses",
        api.ingest_expenses,
        name="api-ingest-expenses",
    ),
    # Anything else under api/ answers JSON, like the API does, not the site's HTML 404.
    # [\s\S]: a path with an encoded newline is an API path too (".*" stops at a newline).
    re_path(r"^api/(?P<rest>[\s\S]*)$", api.api_not_found, name="api-not-found"),
    path("companies/<int:company_id>/expenses/", views.queue, name="expense-queue"),
    path("companies/<int:company_id>/expenses/bulk/", views.bulk, name="expense-bulk"),
    path("companies/<int:company_id>/expenses/matching/", views.matching, name="expense-matching"),
    path(
        "companies/<int:company_id>/expenses/export.<str:file_format>",
        views.queue_export,
        name="expense-export",
    ),
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
        "companies/<int:company_id>/expenses/<uuid:expense_id>/row/",
        views.row,
        name="expense-row",
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

# Rules and suggestions.
urlpatterns += [
    path("companies/<int:company_id>/rules/", views.rule_list, name="rule-list"),
    path("companies/<int:company_id>/rules/new/", views.rule_edit, name="rule-create"),
    path("companies/<int:company_id>/rules/run/", views.rules_run, name="rules-run"),
    path("companies/<int:company_id>/rules/<int:rule_id>/", views.rule_edit, name="rule-edit"),
    path(
        "companies/<int:company_id>/rules/<int:rule_id>/delete/",
        views.rule_delete_view,
        name="rule-delete",
    ),
    path(
        "companies/<int:company_id>/rules/<int:rule_id>/active/",
        views.rule_toggle,
        name="rule-toggle",
    ),
    path(
        "companies/<int:company_id>/rules/<int:rule_id>/move/",
        views.rule_move_view,
        name="rule-move",
    ),
    path(
        "companies/<int:company_id>/rules/<int:rule_id>/apply/",
        views.rule_apply,
        name="rule-apply",
    ),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/accept-suggestion/",
        views.accept_suggestion,
        name="expense-accept-suggestion",
    ),
]
