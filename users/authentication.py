"""How API requests authenticate: hashed per-device Bearer tokens (users.tokens), and the
OTP-verified admin session where a staff page needs the API (KYC documents inline).

Staff need a second factor on every channel: a staff user's credential must have passed
TOTP (a staff token, or a session django-otp marks verified), and every staff API path
(settings.STAFF_API_PATH_PREFIXES) refuses any other credential with 403 otp_required,
whoever holds it. The check sits in authentication, not in each view's permission class,
so a new backoffice endpoint is covered without doing anything.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import SessionAuthentication, get_authorization_header

from common.replica import current_player_id

from .errors import InvalidToken, OTPRequired
from .tokens import token_authenticate


def is_staff_api(request) -> bool:
    path = request.path_info or request.path
    return any(path.startswith(p) for p in settings.STAFF_API_PATH_PREFIXES)


def require_second_factor(request, user, *, verified: bool) -> None:
    """Refuse a credential that did not pass TOTP when it is staff's or on a staff path."""
    if verified:
        return
    if user.is_staff or is_staff_api(request):
        raise OTPRequired()


class BearerTokenAuthentication:
    """`Authorization: Bearer <key>`: one lookup of the key's digest (users.tokens)."""

    keyword = "Bearer"

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() != self.keyword.lower().encode():
            return None
        if len(auth) != 2:
            raise InvalidToken("Malformed Authorization header.")
        try:
            key = auth[1].decode("ascii")
        except UnicodeError:
            raise InvalidToken() from None
        user, token = token_authenticate(key=key, now=timezone.now())
        require_second_factor(request, user, verified=token.otp_verified)
        current_player_id.set(user.pk)
        return user, token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class OTPVerifiedSessionAuthentication(SessionAuthentication):
    """The admin's session (with CSRF on unsafe methods), only once it passed TOTP."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        verified = bool(getattr(request._request.user, "is_verified", lambda: False)())
        require_second_factor(request, user, verified=verified)
        return result
