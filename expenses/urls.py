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
