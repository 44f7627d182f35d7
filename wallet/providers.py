"""Payment providers: their webhook secrets and signature checks."""

from __future__ import annotations

import hashlib
import hmac
import re

from django.conf import settings

from .errors import InvalidSignature, UnknownProvider

_HEADER_RE = re.compile(r"t=([0-9]{1,12}),v1=([0-9a-f]{64})\Z")


def provider_secret(provider: str) -> bytes:
    secrets = {"sandbox": settings.SANDBOX_PROVIDER_SECRET}
    if provider not in secrets:
        raise UnknownProvider()
    secret = secrets[provider]
    if not secret:
        # A provider without a configured secret accepts nothing.
        raise InvalidSignature("This provider has no webhook secret configured.")
    return secret.encode()


def sign(*, secret: bytes, timestamp: int, body: bytes) -> str:
    """The X-Signature header value a provider sends for `body` at `timestamp`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def signature_verify(*, provider: str, header: str | None, body: bytes, now_ts: int) -> None:
    """Check `X-Signature` over timestamp and raw body. Raises InvalidSignature, UnknownProvider."""
    secret = provider_secret(provider)
    match = _HEADER_RE.match(header or "")
    if not match:
        raise InvalidSignature()
    timestamp, received = int(match.group(1)), match.group(2)
    if abs(now_ts - timestamp) > settings.WEBHOOK_TOLERANCE_S:
        raise InvalidSignature("The webhook signature is too old.")
    expected = sign(secret=secret, timestamp=timestamp, body=body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, received):
        raise InvalidSignature()
