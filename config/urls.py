from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from common.health import healthz, readyz
from common.views import API_DOCS_AUTHENTICATION, ApiDocsAccess, favicon, metrics

api_v1 = [
    path("auth/", include("users.api.urls")),
    path("", include("wallet.api.urls")),
    path("betting/", include("betting.api.urls")),
    path("kyc/", include("kyc.api.urls")),
    path("games/", include("sessions.api.urls")),
    path("casino/", include("casino.api.urls")),
    path("responsible/", include("responsible.api.urls")),
    path("bonuses/", include("bonuses.api.urls")),
    path("backoffice/", include("config.backoffice_urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on every page that names no icon.
    path("favicon.ico", favicon, name="favicon"),
    path("readyz", readyz, name="readyz"),
    path("api/v1/", include(api_v1)),
    # Public where API_DOCS_PUBLIC (dev); staff only in production (common.views.ApiDocsAccess).
    path("api/schema/", SpectacularAPIView.as_view(
        authentication_classes=API_DOCS_AUTHENTICATION, permission_classes=[ApiDocsAccess]),
        name="schema"),
    path(
        "api/docs/",
        # The split view serves its init script as a file: no inline script, so the page
        # works under a Content-Security-Policy without 'unsafe-inline'.
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", authentication_classes=API_DOCS_AUTHENTICATION,
            permission_classes=[ApiDocsAccess],
            template_name="api_docs/swagger_ui.html",
        ),
        name="api-docs",
    ),
    path("admin/", include("backoffice.urls")),
    path("admin/", admin.site.urls),
    path("", include("sessions.urls")),
    path("", include("reconciliation.urls")),
    # django-prometheus's exporter, behind METRICS_TOKEN / METRICS_ALLOWED_NETWORKS.
    path("metrics", metrics, name="prometheus-django-metrics"),
]

# Admin refusals name the permission and the roles that hold it (backoffice.views).
handler403 = "backoffice.views.permission_denied_view"
# Unrouted URLs and crashes under /api/ answer the API's JSON error body (common.views).
handler404 = "common.views.page_not_found"
handler500 = "common.views.server_error"
