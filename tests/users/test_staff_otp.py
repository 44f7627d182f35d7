"""Staff need a second factor on every channel (issue 12).

The table walks every URL pattern under /api/v1/backoffice/ found by the URL resolver (a
new endpoint is covered without touching this file) with each kind of credential.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.factories import make_player, make_staff, make_token
from users.authentication import BearerTokenAuthentication, OTPVerifiedSessionAuthentication
from users.models import AuthToken, TokenKind
from users.tokens import key_digest

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
PREFIX = "api/v1/backoffice/"


def _code(device, drift=0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


def _wrong(device) -> str:
    return "000000" if _code(device) != "000000" else "111111"


def _patterns(patterns=None, prefix="") -> list[tuple[str, URLPattern]]:
    out = []
    for p in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            out += _patterns(p.url_patterns, route)
        elif isinstance(p, URLPattern) and route.startswith(PREFIX):
            out.append((route, p))
    return out


def _concrete(route: str) -> str:
    path = route
    for conv, value in (("int", "999999"), ("uuid", str(uuid.uuid4())), ("str", "x"),
                        ("slug", "x")):
        while f"<{conv}:" in path:
            start = path.index(f"<{conv}:")
            path = path[:start] + value + path[path.index(">", start) + 1:]
    assert "<" not in path, route
    return "/" + path


def _methods(pattern: URLPattern) -> list[str]:
    cls = pattern.callback.cls
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)]


ENDPOINTS = [(route, m) for route, p in _patterns() for m in _methods(p)]


def test_the_table_covers_the_backoffice():
    routes = {route for route, _ in ENDPOINTS}
    # The resolver found the whole staff API, not a few of it.
    assert len(routes) >= 30, routes
    for must in ("withdrawals/<uuid:withdrawal_id>/approve/", "kyc/documents/<uuid:document_id>/",
                 "markets/<int:market_id>/settle/", "selections/<int:selection_id>/",
                 "responsible/players/<int:player_id>/limits/", "reconciliation/lag/",
                 "players/<int:player_id>/tokens/revoke/"):
        assert PREFIX + must in routes


@pytest.mark.parametrize("route", sorted({r for r, _ in ENDPOINTS}))
def test_no_backoffice_view_accepts_an_unchecked_credential(route):
    """Every staff view authenticates only through the classes that check the second factor."""
    (pattern,) = [p for r, p in _patterns() if r == route]
    classes = pattern.callback.cls().get_authenticators()
    assert classes and {type(c) for c in classes} <= {
        BearerTokenAuthentication, OTPVerifiedSessionAuthentication}


@pytest.fixture
def credentials(db):
    admin = make_staff("administrator")
    admin.is_superuser = True
    admin.save()
    otp_key = make_token(admin)

    def staff_key(**changes) -> str:
        key = make_token(admin)
        AuthToken.objects.filter(digest=key_digest(key)).update(**changes)
        return key

    now = timezone.now()
    password_only_session = Client()
    password_only_session.force_login(admin)
    return {
        "none": (None, 401, {"not_authenticated"}),
        "player token": (make_token(make_player()), 403, {"otp_required"}),
        "staff token without TOTP": (make_token(make_staff("administrator"), otp=False), 403,
                                     {"otp_required"}),
        "staff session without TOTP": (password_only_session, None, {"otp_required",
                                                                     "not_authenticated"}),
        "expired staff token": (staff_key(expires_at=now - timedelta(seconds=1)), 401,
                                {"token_expired"}),
        "idle staff token": (staff_key(last_used_at=now - timedelta(minutes=16)), 401,
                             {"token_expired"}),
        "revoked staff token": (staff_key(revoked_at=now, revoke_reason="test"), 401,
                                {"token_revoked"}),
        "staff OTP token": (otp_key, "ok", set()),
    }


def _call(cred, method: str, path: str):
    if isinstance(cred, Client):
        return getattr(cred, method)(path, content_type="application/json")
    api = APIClient()
    if cred:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {cred}")
    return getattr(api, method)(path, {}, format="json")


def test_every_backoffice_endpoint_with_every_credential(credentials):
    failures = []
    for route, method in ENDPOINTS:
        path = _concrete(route)
        for name, (cred, status, codes) in credentials.items():
            resp = _call(cred, method, path)
            got = resp.status_code
            body = resp.json() if resp.get("Content-Type", "").startswith(
                "application/json") else None
            code = body.get("code") if isinstance(body, dict) else None
            if status == "ok":
                ok = got < 500 and got not in (401, 403)
            else:
                ok = (status is None or got == status) and got in (401, 403) and code in codes
            if not ok:
                failures.append(f"{method.upper()} {path} [{name}] -> {got} {code}")
    assert not failures, "\n".join(failures)


# --- the token endpoint: staff never get a credential without a current TOTP code --------

def _token(username, password=PASSWORD, **extra):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password,
                                                    **extra}, format="json")


def test_staff_password_alone_gets_no_token():
    staff = make_staff("payments")
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    resp = _token(staff.username)
    assert resp.status_code == 401 and resp.json()["code"] == "otp_required"
    assert "token" not in resp.json()
    assert not AuthToken.objects.filter(user=staff).exists()


def test_staff_wrong_code_and_no_device_get_no_token(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    staff = make_staff("trader")
    resp = _token(staff.username, otp_token="123456")
    assert resp.status_code == 403 and resp.json()["code"] == "otp_not_enrolled"
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    resp = _token(staff.username, otp_token=_wrong(device))
    assert resp.status_code == 401 and resp.json()["code"] == "otp_invalid"
    assert not AuthToken.objects.filter(user=staff).exists()


def test_staff_token_after_password_and_code_works_on_the_backoffice(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    staff = make_staff("payments")
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    resp = _token(staff.username, otp_token=_code(device), device="ops laptop")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    token = AuthToken.objects.get(user=staff)
    assert token.kind == TokenKind.STAFF and token.otp_device == device.persistent_id
    assert token.label == "ops laptop"
    assert body["idle_timeout_s"] == settings.AUTH_STAFF_TOKEN_IDLE_S == 900
    assert token.expires_at - token.created_at == timedelta(seconds=8 * 3600)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert api.get("/api/v1/backoffice/reconciliation/lag/").status_code == 200
    # The same code cannot be replayed for a second token (django-otp remembers its step).
    again = _token(staff.username, otp_token=_code(device))
    assert again.status_code == 401 and again.json()["code"] == "otp_invalid"


def test_player_promoted_to_staff_loses_the_backoffice_with_the_old_token():
    player = make_player()
    key = make_token(player)
    player.is_staff = True
    player.save()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    resp = api.get("/api/v1/wallets/")
    assert resp.status_code == 403 and resp.json()["code"] == "otp_required"


def test_staff_limits_come_from_settings(settings):
    settings.AUTH_STAFF_TOKEN_IDLE_S = 60
    staff = make_staff("payments")
    key = make_token(staff)
    AuthToken.objects.filter(user=staff).update(
        last_used_at=timezone.now() - timedelta(seconds=61))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    resp = api.get("/api/v1/backoffice/reconciliation/lag/")
    assert resp.status_code == 401 and resp.json()["code"] == "token_expired"
