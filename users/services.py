from __future__ import annotations

from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp import devices_for_user

from common.hooks import hooks_run
from common.netaddr import client_ip

from .errors import (
    InvalidCredentials,
    OTPCodeRequired,
    OTPInvalid,
    OTPNotEnrolled,
    OTPThrottled,
    UsernameConfusable,
    UsernameTaken,
)
from .models import User
from .tokens import REVOKED_PASSWORD_CHANGED, token_create, tokens_revoke_all
from .usernames import username_dangerous, username_normalize, username_skeleton


def user_register(*, username: str, email: str, password: str, affiliate_code: str = "") -> User:
    """Create a player account. Raises UsernameTaken, django ValidationError for a weak
    password, whatever the registration checks raise (the external self-exclusion
    register: 403 externally_excluded, 503 exclusion_register_unavailable), and, with an
    `affiliate_code`, whatever the attribution hooks raise (400 unknown_affiliate_code):
    the player and the attribution commit together or not at all.

    Also raises UsernameConfusable. Returns the user unsaved (pk None) when the email
    already has an account: the answer must not reveal that (docs/architecture.md)."""
    username = username_normalize(username)
    if username_dangerous(username):
        raise UsernameConfusable("The username mixes scripts with look-alike letters.")
    candidate = User(username=username, email=email)
    password_validation.validate_password(password, user=candidate)
    # Before the transaction: a check may call an external register.
    hooks_run("USER_REGISTRATION_CHECKS", email=email, username=username)
    # Hashing is the slow part of a registration: done whether or not the email is known.
    candidate.set_password(password)
    skeleton = username_skeleton(username)
    try:
        with transaction.atomic(durable=True):
            _refuse_username(username, skeleton)
            if User.objects.filter(email__iexact=email).exists():
                return candidate  # same answer as a success; nothing is written
            candidate.save()
            if affiliate_code:
                hooks_run("USER_REGISTRATION_ATTRIBUTION_HOOKS", user=candidate,
                          affiliate_code=affiliate_code, now=timezone.now())
    except IntegrityError:
        # A parallel registration took the name, its look-alike or the email meanwhile.
        _refuse_username(username, skeleton)
        return User(username=username, email=email)
    hooks_run("USER_REGISTERED_HOOKS", user=candidate, now=timezone.now())
    return candidate


def _refuse_username(username: str, skeleton: str) -> None:
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTaken()
    if User.objects.filter(username_skeleton=skeleton).exists():
        raise UsernameConfusable()


def _login_failed(*, username: str, request) -> None:
    # A wrong second factor counts as a failed login for django-axes (as in the admin).
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def _otp_verify(*, user: User, code: str, username: str, request) -> str:
    """The persistent id of the user's confirmed TOTP device that accepts `code`.

    Raises OTPNotEnrolled, OTPCodeRequired, OTPThrottled, OTPInvalid."""
    devices = list(devices_for_user(user, confirmed=True))
    if not devices:
        _login_failed(username=username, request=request)
        raise OTPNotEnrolled()
    code = (code or "").strip()
    if not code:
        _login_failed(username=username, request=request)
        raise OTPCodeRequired()
    throttled = False
    for device in devices:
        allowed, _ = device.verify_is_allowed()
        if not allowed:  # django-otp's back-off after wrong codes
            throttled = True
            continue
        if device.verify_token(code):
            return device.persistent_id
    _login_failed(username=username, request=request)
    raise OTPThrottled() if throttled else OTPInvalid()


def token_issue(*, username: str, password: str, otp_token: str = "", device: str = "",
                request=None) -> str:
    """Log in one device: return a fresh API token key (a new one on every login).

    Staff need the current code of their TOTP device as well. Raises InvalidCredentials,
    OTPNotEnrolled (403), OTPCodeRequired (401 otp_required), OTPInvalid, OTPThrottled."""
    username = username_normalize(username)
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials()
    otp_device = ""
    if user.is_staff:
        otp_device = _otp_verify(user=user, code=otp_token, username=username, request=request)
    now = timezone.now()
    meta = getattr(request, "META", {}) if request is not None else {}
    user_agent = meta.get("HTTP_USER_AGENT", "")
    _token, key = token_create(
        user=user, now=now, otp_device=otp_device, label=device or user_agent[:100],
        user_agent=user_agent, ip_address=client_ip(request) if request is not None else None,
    )
    # A token is a login: Django records last_login and django-axes an access log row
    # (what the player page shows as "Logged in ... via API").
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    hooks_run("USER_LOGIN_HOOKS", user=user, now=now)
    return key


def password_change(*, user: User, old_password: str, new_password: str, now) -> None:
    """Change the user's password and revoke every token they hold (all devices).

    Raises InvalidCredentials (old password wrong), django ValidationError (weak)."""
    if not user.check_password(old_password):
        raise InvalidCredentials("The current password is wrong.")
    password_validation.validate_password(new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    # The tokens already fail (their password fingerprint no longer matches); this records
    # why in their history.
    tokens_revoke_all(user=user, actor=user, reason=REVOKED_PASSWORD_CHANGED, now=now)
