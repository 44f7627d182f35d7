"""API credentials: issue, authenticate, list, revoke (model users.AuthToken).

A client holds a random key; the database holds only its SHA-256 digest, so a copy of the
table authenticates nobody. Authentication is one indexed lookup by digest (with the user
joined); `last_used_at` is written at most once per AUTH_TOKEN_TOUCH_INTERVAL_S, so a busy
client costs one SELECT per request, not a write. Limits per kind (settings):
AUTH_<KIND>_TOKEN_IDLE_S (sliding, from the last use) and AUTH_<KIND>_TOKEN_MAX_AGE_S
(absolute, from the login). A password change ends every token of the user: each token
carries a fingerprint of the password hash it was issued under.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils.crypto import constant_time_compare, salted_hmac

from common.history import save_with_history

from .errors import DeviceNotFound, InvalidToken, ReasonRequired, TokenExpired, TokenRevoked
from .models import AuthToken, TokenKind, User

KEY_BYTES = 32
REVOKED_PASSWORD_CHANGED = "password changed"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def password_fingerprint(user: User) -> str:
    return salted_hmac("users.AuthToken.password", user.password or "",
                       algorithm="sha256").hexdigest()[:32]


@dataclass(frozen=True)
class Limits:
    idle: timedelta
    max_age: timedelta


def token_limits(kind: str) -> Limits:
    if kind == TokenKind.STAFF:
        return Limits(timedelta(seconds=settings.AUTH_STAFF_TOKEN_IDLE_S),
                      timedelta(seconds=settings.AUTH_STAFF_TOKEN_MAX_AGE_S))
    return Limits(timedelta(seconds=settings.AUTH_PLAYER_TOKEN_IDLE_S),
                  timedelta(seconds=settings.AUTH_PLAYER_TOKEN_MAX_AGE_S))


def token_create(*, user: User, now: datetime, otp_device: str = "", label: str = "",
                 user_agent: str = "", ip_address: str | None = None) -> tuple[AuthToken, str]:
    """Issue a fresh token for one device; return the row and the key (shown once).

    Staff tokens need the persistent id of the TOTP device whose code was just verified."""
    kind = TokenKind.STAFF if user.is_staff else TokenKind.PLAYER
    if kind == TokenKind.STAFF and not otp_device:
        raise ValueError("a staff token needs a verified OTP device")
    key = secrets.token_urlsafe(KEY_BYTES)
    token = AuthToken(
        user=user, digest=key_digest(key), kind=kind, otp_device=otp_device,
        label=label[:100], user_agent=user_agent[:256], ip_address=ip_address,
        password_fingerprint=password_fingerprint(user), created_at=now, last_used_at=now,
        expires_at=now + token_limits(kind).max_age,
    )
    with transaction.atomic(durable=True):
        save_with_history(token, user=user, reason="login", force_insert=True)
    return token, key


def _state(token: AuthToken, *, now: datetime) -> type[Exception] | None:
    """Why `token` no longer works (an error class), or None while it does."""
    if token.revoked_at is not None:
        return TokenRevoked
    if not constant_time_compare(token.password_fingerprint, password_fingerprint(token.user)):
        return TokenRevoked
    limits = token_limits(token.kind)
    if now >= token.expires_at or now - token.last_used_at > limits.idle:
        return TokenExpired
    return None


def token_authenticate(*, key: str, now: datetime) -> tuple[User, AuthToken]:
    """The user and token behind `key`. Raises InvalidToken, TokenRevoked, TokenExpired."""
    if not key or len(key) > 128:
        raise InvalidToken()
    token = AuthToken.objects.select_related("user").filter(digest=key_digest(key)).first()
    if token is None or not token.user.is_active:
        raise InvalidToken()
    problem = _state(token, now=now)
    if problem is not None:
        raise problem()
    if now - token.last_used_at >= timedelta(seconds=settings.AUTH_TOKEN_TOUCH_INTERVAL_S):
        # Sliding idle limit: a plain UPDATE, no history row; the filter makes concurrent
        # requests of one client write once.
        AuthToken.objects.filter(pk=token.pk, last_used_at=token.last_used_at).update(
            last_used_at=now)
        token.last_used_at = now
    return token.user, token


def token_list_active(*, user: User, now: datetime) -> list[AuthToken]:
    """The user's tokens that still work, newest first (the player's devices)."""
    rows = (AuthToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=now,
                                     password_fingerprint=password_fingerprint(user))
            .select_related("user").order_by("-created_at", "-pk"))
    return [t for t in rows if _state(t, now=now) is None]


def _revoke(token: AuthToken, *, actor: User | None, reason: str, now: datetime) -> bool:
    if token.revoked_at is not None:
        return False
    token.revoked_at = now
    token.revoked_by = actor
    token.revoke_reason = reason
    save_with_history(token, user=actor, reason=reason,
                      update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    return True


def token_revoke(*, user: User, token_id: int, actor: User, reason: str, now: datetime) -> bool:
    """Revoke one token of `user` (their own device, or a support agent's decision); False
    when it was already revoked. Raises DeviceNotFound (not the user's), ReasonRequired."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    with transaction.atomic(durable=True):
        token = (AuthToken.objects.select_for_update().select_related("user")
                 .filter(pk=token_id, user=user).first())
        if token is None:
            raise DeviceNotFound()
        return _revoke(token, actor=actor, reason=reason, now=now)


def tokens_revoke_all(*, user: User, actor: User | None, reason: str, now: datetime) -> int:
    """Revoke every unrevoked token of `user`; return how many. Raises ReasonRequired."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    with transaction.atomic(durable=True):
        rows = list(AuthToken.objects.select_for_update()
                    .filter(user=user, revoked_at__isnull=True).order_by("pk"))
        return sum(_revoke(t, actor=actor, reason=reason, now=now) for t in rows)
