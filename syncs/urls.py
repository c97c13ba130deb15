from django.urls import path

from syncs import views

urlpatterns = [
    path("companies/<int:company_id>/push/", views.progress, name="push-progress"),
    path("companies/<int:company_id>/push/start/", views.start, name="push-start"),
]
