"""DRF throttles keyed on the client address from common.netaddr (never a raw header)."""

from rest_framework.throttling import ScopedRateThrottle as _ScopedRateThrottle

from .netaddr import client_ip


class ScopedRateThrottle(_ScopedRateThrottle):
    def get_ident(self, request) -> str:
        return client_ip(request) or "unknown"
