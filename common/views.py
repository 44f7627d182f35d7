"""Site-wide pages that belong to no domain app."""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.http import require_GET
from django_prometheus import exports
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.settings import api_settings


@require_GET
def favicon(request):
    # Resolved per request: the production manifest exists only after collectstatic.
    return HttpResponsePermanentRedirect(static("common/favicon.ico"))


def page_not_found(request, exception=None):
    """404 for a URL that matches no route: the API's JSON error body under /api/, Django's
    page elsewhere (the admin, /play/)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "No such resource."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """500: the API's JSON error body under /api/ (clients parse one shape), the page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "server_error", "detail": "Internal server error."},
                            status=500)
    return defaults.server_error(request)


def _metrics_allowed(request) -> bool:
    if settings.METRICS_PUBLIC:
        return True
    token = settings.METRICS_TOKEN
    given = request.META.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    # The socket's peer, never a client-supplied header: behind a proxy, use the token.
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(net, strict=False)
               for net in settings.METRICS_ALLOWED_NETWORKS)


@require_GET
def metrics(request):
    """Prometheus metrics: public only where METRICS_PUBLIC (dev); otherwise for a scraper with
    `Authorization: Bearer <METRICS_TOKEN>` or from METRICS_ALLOWED_NETWORKS (403 otherwise)."""
    if not _metrics_allowed(request):
        return JsonResponse(
            {"code": "metrics_forbidden",
             "detail": "Metrics need the scrape token or an allowed network."},
            status=403, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return exports.ExportToDjangoView(request)


class ApiDocsAccess(BasePermission):
    """Who may read the OpenAPI schema and docs: anyone where API_DOCS_PUBLIC (dev, test);
    otherwise (production) staff only: an OTP-verified admin session or a staff API credential.
    The views authenticate with `API_DOCS_AUTHENTICATION` (the admin session first)."""

    message = "The API documentation is for staff only."

    def has_permission(self, request, view) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        if isinstance(request.successful_authenticator, SessionAuthentication):
            return bool(getattr(user, "is_verified", lambda: False)())  # the admin's TOTP
        return True


API_DOCS_AUTHENTICATION = [SessionAuthentication, *api_settings.DEFAULT_AUTHENTICATION_CLASSES]
