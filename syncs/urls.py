from django.urls import path

from syncs import dashboard_views, history_views, views

urlpatterns = [
    path("companies/<int:company_id>/push/", views.progress, name="push-progress"),
    path("companies/<int:company_id>/push/start/", views.start, name="push-start"),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/correct/",
        views.correct,
        name="expense-correct",
    ),
    path(
        "companies/<int:company_id>/expenses-api/",
        views.expenses_api_move,
        name="company-expenses-api",
    ),
    path("companies/<int:company_id>/syncs/", history_views.sync_list, name="sync-list"),
    path(
        "companies/<int:company_id>/syncs/<int:sync_pk>/",
        history_views.sync_page,
        name="sync-detail",
    ),
    path(
        "companies/<int:company_id>/syncs/<int:sync_pk>/results.csv",
        history_views.sync_results_csv,
        name="sync-results-csv",
    ),
    path(
        "companies/<int:company_id>/syncs/<int:sync_pk>/progress/",
        history_views.sync_progress,
        name="sync-progress",
    ),
    path(
        "companies/<int:company_id>/syncs/<int:sync_pk>/retry/",
        history_views.sync_retry,
        name="sync-retry",
    ),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/causes/", dashboard_views.cause_detail, name="dashboard-cause"),
    path(
        "dashboard/causes/progress/",
        dashboard_views.cause_progress,
        name="dashboard-cause-progress",
    ),
    path("dashboard/causes/retry/", dashboard_views.cause_retry, name="dashboard-cause-retry"),
]
