"""The external self-exclusion register (GAMSTOP-style), behind one adapter.

`RG_EXCLUSION_REGISTER` names the adapter class; it answers `is_excluded(email=..., username=...)`
with True/False or raises RegisterError. Answers are cached in the Django cache (Redis) for
RG_REGISTER_CACHE_S, keyed by a hash of the normalised email (no address is stored there).

Failure policy (docs/responsible-gambling.md): fail closed. When the register cannot answer
and no cached answer is fresh, registration and deposits are refused with 503
`exclusion_register_unavailable`; a login still issues a token (the player must be able to
withdraw) and keeps the last recorded answer, which the money gates enforce.

Never called while a row lock is held: callers check before their transaction.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

from .errors import RegisterError


class SandboxRegister:
    """Offline stand-in: an email whose local part ends in `+selfexcluded` is registered,
    one ending in `+registerdown` makes the register fail; so are the addresses listed in
    RG_SANDBOX_EXCLUDED_EMAILS."""

    def is_excluded(self, *, email: str, username: str = "") -> bool:
        local = email.lower().split("@", 1)[0]
        if local.endswith("+registerdown"):
            raise RegisterError("sandbox register is down for this address")
        listed = {e.strip().lower() for e in settings.RG_SANDBOX_EXCLUDED_EMAILS if e.strip()}
        return local.endswith("+selfexcluded") or email.lower() in listed


def register_adapter():
    return import_string(settings.RG_EXCLUSION_REGISTER)()


def _cache_key(email: str) -> str:
    return "rg:register:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def register_lookup(*, email: str, username: str = "") -> bool:
    """Ask the register (or a fresh cached answer). Raises RegisterError."""
    key = _cache_key(email)
    cached = cache.get(key)
    if cached is not None:
        return bool(cached)
    excluded = register_adapter().is_excluded(email=email, username=username)
    cache.set(key, int(excluded), timeout=settings.RG_REGISTER_CACHE_S)
    return excluded


def register_forget(*, email: str) -> None:
    cache.delete(_cache_key(email))
