"""Site-wide pages that belong to no domain app."""

from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.http import require_GET


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
