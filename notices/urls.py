from django.urls import path

from notices import views

urlpatterns = [
    path("companies/<int:company_id>/failing/", views.company_failing, name="company-failing"),
]
