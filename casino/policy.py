"""Per-provider configuration and policy (settings.CASINO_PROVIDERS, read from the
environment; see docs/seamless-wallet.md)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .errors import UnknownProvider

ADAPTERS = ("sandbox", "hub88")
UNKNOWN_ROLLBACK = ("ok", "error")
WIN_AFTER_ROLLBACK = ("refuse", "credit")
ROUND_CLOSE = ("flag", "first_win")


@dataclass(frozen=True)
class ProviderPolicy:
    name: str
    adapter: str
    # sandbox: HMAC-SHA256 secret; hub88: the provider's RSA public key (PEM).
    secret: str
    public_key_pem: str
    signature_tolerance_s: int
    # A rollback naming a bet we never saw: answer success ("ok") or transaction_not_found
    # ("error"). Either way a tombstone is written and the late bet is refused.
    unknown_rollback: str
    # A win whose bet was rolled back: refuse it (transaction_rolled_back) or credit it.
    win_after_rollback: str
    # "flag": the provider's round_closed flag (or a round-end call) closes the round;
    # "first_win": so does the round's first win.
    round_close: str
    # Must a call's game equal the launch token's game?
    game_must_match: bool
    game_url: str
    # Integer wire amounts with this many decimals (hub88: 5); None: decimal strings.
    wire_decimals: int | None

    @property
    def public_key(self) -> RSAPublicKey | None:
        return _load_public_key(self.public_key_pem) if self.public_key_pem else None


@lru_cache(maxsize=8)
def _load_public_key(pem: str) -> RSAPublicKey:
    try:
        key = load_pem_public_key(pem.replace("\\n", "\n").encode())
    except ValueError as exc:
        raise ImproperlyConfigured(f"casino provider public key is not a PEM key: {exc}") from None
    if not isinstance(key, RSAPublicKey):
        raise ImproperlyConfigured("casino provider public key must be an RSA key")
    return key


def _choice(name: str, key: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ImproperlyConfigured(f"CASINO_PROVIDERS[{name!r}][{key!r}] must be one of "
                                   f"{allowed}, got {value!r}")
    return value


def provider_policy(name: str) -> ProviderPolicy:
    """The configured policy of provider `name`. Raises UnknownProvider."""
    raw = settings.CASINO_PROVIDERS.get(name) if isinstance(name, str) else None
    if raw is None:
        raise UnknownProvider()
    public_key = raw.get("public_key", "")
    if not public_key and raw.get("public_key_file"):
        with open(raw["public_key_file"], encoding="ascii") as fh:
            public_key = fh.read()
    return ProviderPolicy(
        name=name,
        adapter=_choice(name, "adapter", raw.get("adapter", name), ADAPTERS),
        secret=raw.get("secret", ""),
        public_key_pem=public_key,
        signature_tolerance_s=int(raw.get("signature_tolerance_s", 300)),
        unknown_rollback=_choice(name, "unknown_rollback", raw.get("unknown_rollback", "ok"),
                                 UNKNOWN_ROLLBACK),
        win_after_rollback=_choice(name, "win_after_rollback",
                                   raw.get("win_after_rollback", "refuse"), WIN_AFTER_ROLLBACK),
        round_close=_choice(name, "round_close", raw.get("round_close", "flag"), ROUND_CLOSE),
        game_must_match=bool(raw.get("game_must_match", True)),
        game_url=raw.get("game_url", ""),
        wire_decimals=raw.get("wire_decimals"),
    )


def provider_names() -> list[str]:
    return sorted(settings.CASINO_PROVIDERS)
