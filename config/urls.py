from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common.health import healthz, readyz

api_v1 = [
    path("auth/", include("users.api.urls")),
    path("", include("wallet.api.urls")),
    path("betting/", include("betting.api.urls")),
    path("kyc/", include("kyc.api.urls")),
    path("games/", include("sessions.api.urls")),
    path("backoffice/", include("config.backoffice_urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[]),
        name="api-docs",
    ),
    path("admin/", include("backoffice.urls")),
    path("admin/", admin.site.urls),
    path("", include("sessions.urls")),
    path("", include("reconciliation.urls")),
    path("", include("django_prometheus.urls")),
]
