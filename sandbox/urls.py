"""The sandbox's HTTP surface, mounted at /codat-sandbox/ (see CONTRACTS.md): the same paths as
https://api.codat.io for both generations of the expenses API (v1 and the newer "Expenses"), the
`_sandbox/` control surface, and pages for people (Link, ledger)."""

from django.urls import URLPattern, URLResolver, path, re_path

from sandbox import views

app_name = "sandbox"

C = "companies/<str:company_id>"
S = f"{C}/sync/expenses"
_DATA = "info|accounts|suppliers|customers|trackingCategories|taxRates"
_ONE = "accounts|suppliers|customers|trackingCategories|taxRates"

urlpatterns: list[URLPattern | URLResolver] = [
    path("companies", views.companies, name="companies"),
    path(C, views.company, name="company"),
    path(f"{C}/connections", views.connections, name="connections"),
    path(f"{C}/connections/<str:connection_id>", views.connection, name="connection"),
    path(
        f"{C}/connections/<str:connection_id>/data/bankAccounts",
        views.bank_accounts,
        name="bank-accounts",
    ),
    path(f"{C}/data/all", views.data_all, name="data-all"),
    path(f"{C}/dataStatus", views.data_status, name="data-status"),
    re_path(
        rf"^companies/(?P<company_id>[^/]+)/data/(?P<endpoint>{_DATA})$",
        views.data_list,
        name="data-list",
    ),
    re_path(
        rf"^companies/(?P<company_id>[^/]+)/data/(?P<endpoint>{_ONE})/(?P<record_id>[^/]+)$",
        views.data_one,
        name="data-one",
    ),
    path(f"{S}/config", views.config, name="config"),
    path(f"{S}/connections/partnerExpense", views.partner_expense, name="partner-expense"),
    path(f"{S}/mappingOptions", views.mapping_options, name="mapping-options"),
    path(f"{S}/data/expense-transactions", views.expense_dataset, name="expense-dataset"),
    # The newer generation (Codat-Sync-Expenses.json), beside v1 on the same base URL.
    path(f"{S}/expense-transactions", views.expense_transactions, name="expense-transactions"),
    path(
        f"{S}/transfer-transactions/<str:transaction_id>",
        views.transfer_transaction,
        name="transfer-transaction",
    ),
    path(
        f"{S}/adjustment-transactions",
        views.adjustment_transactions,
        name="adjustment-transactions",
    ),
    path(
        f"{S}/reimbursable-expense-transactions",
        views.reimbursable_transactions,
        name="reimbursable-transactions",
    ),
    path(
        f"{S}/reimbursable-expense-transactions/<str:transaction_id>",
        views.reimbursable_transaction,
        name="reimbursable-transaction",
    ),
    path(
        f"{S}/expense-transactions/<str:transaction_id>",
        views.update_expense,
        name="update-expense",
    ),
    path(f"{S}/syncs", views.initiate_sync, name="initiate-sync"),
    re_path(
        r"^companies/(?P<company_id>[^/]+)/sync/expenses/syncs/(?P<which>lastSuccessful|latest|list)/status$",
        views.sync_status,
        name="sync-status",
    ),
    path(f"{S}/syncs/<str:sync_id>/status", views.sync_by_id, name="sync-by-id"),
    path(
        f"{S}/syncs/<str:sync_id>/transactions", views.sync_transactions, name="sync-transactions"
    ),
    path(
        f"{S}/syncs/<str:sync_id>/transactions/<str:transaction_id>",
        views.sync_transaction,
        name="sync-transaction",
    ),
    path(
        f"{S}/syncs/<str:sync_id>/transactions/<str:transaction_id>/attachments",
        views.upload_attachment,
        name="upload-attachment",
    ),
    # Control surface (same auth, never faulted).
    path(
        "_sandbox/companies/<str:company_id>/connections/<str:connection_id>/authorize",
        views.control_authorize,
        name="control-authorize",
    ),
    path(
        "_sandbox/companies/<str:company_id>/connections/<str:connection_id>/deauthorize",
        views.control_deauthorize,
        name="control-deauthorize",
    ),
    path("_sandbox/companies/<str:company_id>/ledger", views.control_ledger, name="control-ledger"),
    path("_sandbox/companies/<str:company_id>/api", views.control_company_api, name="control-api"),
    path(
        "_sandbox/companies/<str:company_id>/records/<str:data_type>",
        views.control_record_add,
        name="control-record-add",
    ),
    path(
        "_sandbox/companies/<str:company_id>/records/<str:data_type>/<str:record_id>",
        views.control_record,
        name="control-record",
    ),
    path("_sandbox/faults", views.control_faults, name="control-faults"),
    path("_sandbox/settings", views.control_settings, name="control-settings"),
    path("_sandbox/process", views.control_process, name="control-process"),
    # Pages for people.
    path(
        "link/companies/<uuid:company_id>/connections/<uuid:connection_id>/start",
        views.link_page,
        name="link",
    ),
    path("link/company/<uuid:company_id>", views.company_link_page, name="company-link"),
    path("ledger/<str:company_id>/", views.ledger_page, name="ledger-page"),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="not-found"),
]
