"""Site-wide pages that belong to no domain app."""

from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.views.decorators.http import require_GET


@require_GET
def favicon(request):
    # Resolved per request: the production manifest exists only after collectstatic.
    return HttpResponsePermanentRedirect(static("common/favicon.ico"))
