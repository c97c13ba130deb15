from django.urls import path

from companies import views

urlpatterns = [
    path("companies/connect/", views.company_connect, name="company-connect"),
    path(
        "companies/<int:company_id>/onboarding/",
        views.company_onboarding,
        name="company-onboarding",
    ),
    path(
        "companies/<int:company_id>/onboarding/retry/",
        views.company_onboarding_retry_view,
        name="company-onboarding-retry",
    ),
    path("companies/<int:company_id>/settings/", views.company_settings, name="company-settings"),
    path(
        "companies/<int:company_id>/configuration/",
        views.company_configuration,
        name="company-configuration",
    ),
    path("companies/<int:company_id>/refresh/", views.company_refresh, name="company-refresh"),
    path("companies/<int:company_id>/notices/", views.company_notices, name="company-notices"),
    path("companies/<int:company_id>/members/", views.company_invite, name="company-invite"),
    path(
        "companies/<int:company_id>/invitations/<int:invitation_id>/withdraw/",
        views.company_invitation_withdraw,
        name="company-invitation-withdraw",
    ),
    path("invitations/<str:key>/", views.invitation_accept_view, name="invitation-accept"),
    path(
        "companies/<int:company_id>/members/<int:user_id>/",
        views.company_member_change,
        name="company-member-change",
    ),
]
