"""The response django-axes gives a locked-out login (AXES_LOCKOUT_CALLABLE)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape

from common.errors import error_body

CODE = "too_many_attempts"


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """429 with the API error body ({code, detail}); the admin login gets the same as HTML."""
    hours = settings.AXES_COOLOFF_TIME
    detail = (f"Too many failed logins for this account from this address: try again in "
              f"{hours} hour{'s' if hours != 1 else ''}.")
    retry_after = str(int(float(hours) * 3600))
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(CODE, detail, retry_after_s=int(retry_after)),
                                status=429)
    else:
        response = HttpResponse(
            f"<!doctype html><title>Locked out</title><h1>Locked out</h1><p>{escape(detail)}</p>",
            status=429, content_type="text/html; charset=utf-8")
    response["Retry-After"] = retry_after
    return response
