"""Staff API under /api/v1/backoffice/: each app contributes its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("wallet.api.backoffice_urls")),
    path("", include("betting.api.backoffice_urls")),
    path("", include("kyc.api.backoffice_urls")),
    path("", include("sessions.api.backoffice_urls")),
    path("", include("reconciliation.api_backoffice_urls")),
    path("", include("backoffice.api.backoffice_urls")),
    path("", include("responsible.api.backoffice_urls")),
    path("", include("bonuses.api.backoffice_urls")),
    path("", include("users.api.backoffice_urls")),
]
