"""The client's IP address, believed only as far as the operator's own proxies say.

`REMOTE_ADDR` is the peer that opened the connection. Only when that peer is one of
settings.TRUSTED_PROXIES (addresses or CIDR networks; empty by default) is
`X-Forwarded-For` read, from the right: each hop appended by a trusted proxy is skipped,
and the first address no trusted proxy vouches for is the client. A client-supplied header
on a direct connection is ignored, so rotating it changes nothing (lockouts, throttles).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(addr, networks: tuple[Network, ...]) -> bool:
    return any(addr in net for net in networks)


def client_ip(request) -> str | None:
    """The client address of `request` (an HttpRequest or anything with META)."""
    meta = getattr(request, "META", None) or {}
    peer = _parse(meta.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _trusted(peer, networks):
        return str(peer)
    hops = [h for h in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        addr = _parse(hop)
        if addr is None:
            break  # garbage before this point was written by the client: stop trusting
        client = addr
        if not _trusted(addr, networks):
            break
    return str(client)
