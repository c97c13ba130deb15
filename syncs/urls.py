from django.urls import path

from syncs import views

urlpatterns = [
    path("companies/<int:company_id>/push/", views.progress, name="push-progress"),
    path("companies/<int:company_id>/push/start/", views.start, name="push-start"),
    path(
        "companies/<int:company_id>/expenses/<uuid:expense_id>/correct/",
        views.correct,
        name="expense-correct",
    ),
]
