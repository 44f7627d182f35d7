"""Provider authentication: a signature over the raw request body.

- `sandbox`: header `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
  refused outside +-signature_tolerance_s of our clock, compared in constant time.
- `hub88`: header `X-Hub88-Signature: base64(RSA-SHA256 PKCS#1 v1.5 over the body)`, verified
  with the provider's public key. Hub88's contract carries no timestamp, so there is no
  clock-skew bound to apply: a replayed request is harmless because every money call is
  exactly-once by its transaction_uuid (and bets need an unexpired launch token).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .errors import InvalidSignature
from .policy import ProviderPolicy

_HMAC_HEADER_RE = re.compile(r"t=([0-9]{1,12}),v1=([0-9a-f]{64})\Z")


def hmac_sign(*, secret: bytes, timestamp: int, body: bytes) -> str:
    """The X-Signature header value for `body` at `timestamp` (what the provider sends)."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def hmac_verify(*, policy: ProviderPolicy, header: str | None, body: bytes, now_ts: int) -> None:
    """Raises InvalidSignature."""
    if not policy.secret:
        raise InvalidSignature("This provider has no secret configured.")
    match = _HMAC_HEADER_RE.match(header or "")
    if not match:
        raise InvalidSignature()
    timestamp, received = int(match.group(1)), match.group(2)
    expected = hmac_sign(secret=policy.secret.encode(), timestamp=timestamp,
                         body=body).split("v1=", 1)[1]
    # Compare first, judge the clock after: the time taken never depends on the digest.
    valid = hmac.compare_digest(expected, received)
    if not valid or abs(now_ts - timestamp) > policy.signature_tolerance_s:
        raise InvalidSignature()


def rsa_verify(*, policy: ProviderPolicy, header: str | None, body: bytes) -> None:
    """Raises InvalidSignature."""
    key = policy.public_key
    if key is None:
        raise InvalidSignature("This provider has no public key configured.")
    try:
        signature = base64.b64decode(header or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignature() from None
    if not signature:
        raise InvalidSignature()
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except CryptoInvalidSignature:
        raise InvalidSignature() from None
