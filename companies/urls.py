from django.urls import path

from companies import views

urlpatterns = [
    path("", views.company_list, name="home"),
    path("companies/<int:company_id>/", views.company_detail, name="company-detail"),
]
