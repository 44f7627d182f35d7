"""Provider-facing wallet endpoints: authenticated by the provider's signature, not a user.

Plain Django views (csrf-exempt, no session or user lookup): each provider's adapter owns its
wire format and its answers, and makes one service call.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from common.edges import edge_error_renderer
from common.errors import DomainError, error_body

from .adapters import hub88, sandbox
from .errors import UnknownProvider
from .policy import provider_policy

ADAPTERS = {"sandbox": sandbox, "hub88": hub88}


def edge_refusal(request: HttpRequest, exc: DomainError, *, provider: str,
                 action: str) -> JsonResponse:
    """A body refused at the edge (common.edges), answered in the provider's own envelope."""
    try:
        adapter = ADAPTERS[provider_policy(provider).adapter]
    except UnknownProvider:
        adapter = None
    answer = getattr(adapter, "edge_refusal", None)
    if answer is not None:
        return answer(request, exc)
    return JsonResponse(error_body(exc.code, exc.detail), status=exc.status_code)


@edge_error_renderer(edge_refusal)
@csrf_exempt
@require_POST
def provider_wallet_call(request: HttpRequest, provider: str, action: str) -> JsonResponse:
    try:
        policy = provider_policy(provider)
    except UnknownProvider as exc:
        return JsonResponse(error_body(exc.code, exc.detail), status=exc.status_code)
    adapter = ADAPTERS[policy.adapter]
    if action not in adapter.ACTIONS:
        return JsonResponse(error_body("unknown_action", f"{provider} has no {action!r} call."),
                            status=404)
    return adapter.respond(request, policy, action, now=timezone.now())
