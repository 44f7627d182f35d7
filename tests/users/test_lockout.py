"""Login lockout and throttles read the client address from the trusted-proxy setting, key
the lockout on username and address together, and answer 429 with {code, detail} (issue 12)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from common.netaddr import client_ip
from tests.factories import make_player, make_staff
from users.models import AuthToken

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ATTACKER = "203.0.113.9"


@pytest.fixture
def axes(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    return settings


@pytest.fixture
def login_rate(settings):
    def _set(rate: str):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {"login": rate, "register": rate}}
        api_settings.reload()
        ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES

    original = settings.REST_FRAMEWORK
    cache.clear()
    yield _set
    cache.clear()
    settings.REST_FRAMEWORK = original
    api_settings.reload()
    ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def _post(username, password, *, ip=ATTACKER, xff=None, **extra):
    headers = {"REMOTE_ADDR": ip}
    if xff:
        headers["HTTP_X_FORWARDED_FOR"] = xff
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password,
                                                    **extra}, format="json", **headers)


def _code(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_rotating_x_forwarded_for_does_not_escape_the_lockout(axes):
    victim = make_player()
    codes = [_post(victim.username, f"guess-{i}", xff=f"198.18.0.{i + 1}").status_code
             for i in range(3)]
    assert codes == [401, 401, 429]  # the third failure (AXES_FAILURE_LIMIT) locks
    # A fourth address in the header, and the right password: still locked out.
    resp = _post(victim.username, PASSWORD, xff="198.18.0.99")
    assert resp.status_code == 429
    assert resp.json()["code"] == "too_many_attempts"
    assert not AuthToken.objects.filter(user=victim).exists()


def test_rotating_x_forwarded_for_does_not_escape_the_login_throttle(login_rate):
    login_rate("3/min")
    codes = [_post("nobody", "wrong", xff=f"198.18.1.{i}").status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]
    resp = _post("nobody", "wrong", xff="198.18.1.200")
    assert resp.status_code == 429
    body = resp.json()
    assert body["code"] == "too_many_attempts" and body["detail"] and "Retry-After" in resp


def test_an_attacker_cannot_lock_the_administrator_out(axes):
    admin = make_staff("administrator", username="administrator")
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    for i in range(5):
        _post("administrator", f"guess-{i}")
    assert _post("administrator", PASSWORD).status_code == 429  # the attacker is stopped
    # ...and the administrator, from their own address, still logs in.
    resp = _post("administrator", PASSWORD, ip="198.51.100.7", otp_token=_code(device))
    assert resp.status_code == 200, resp.content
    assert AuthToken.objects.filter(user=admin).count() == 1


def test_admin_login_lockout_is_per_username_and_address(axes, client):
    from django.test import Client

    staff = make_staff("support_agent")
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for i in range(3):
        attacker.post("/admin/login/", {"username": staff.username, "password": f"x{i}",
                                        "otp_token": "", "next": "/admin/"})
    locked = attacker.post("/admin/login/", {"username": staff.username, "password": PASSWORD,
                                             "otp_token": "", "next": "/admin/"})
    assert locked.status_code == 429 and b"Locked out" in locked.content
    other = Client(REMOTE_ADDR="198.51.100.8")
    page = other.post("/admin/login/", {"username": staff.username, "password": PASSWORD,
                                        "otp_token": "", "next": "/admin/"})
    assert page.status_code == 200 and b"authenticator" in page.content  # asks for the code


def test_lockout_body_is_the_api_error_body(axes):
    player = make_player()
    for i in range(3):
        _post(player.username, f"guess-{i}")
    resp = _post(player.username, "again")
    assert resp.status_code == 429
    assert resp["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) >= {"code", "detail"} and body["code"] == "too_many_attempts"
    assert int(resp["Retry-After"]) == 3600


def _req(remote, xff=None):
    meta = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **meta)


def test_client_ip_trusts_only_configured_proxies(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(_req("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.1"]
    # From our proxy: the last hop it appended is the client.
    assert client_ip(_req("10.1.2.3", "1.2.3.4, 198.51.100.20")) == "198.51.100.20"
    # Through two of our proxies: both skipped.
    assert client_ip(_req("10.1.2.3", "1.2.3.4, 198.51.100.20, 192.0.2.1")) == "198.51.100.20"
    # A client talking to us directly cannot choose its address with the header.
    assert client_ip(_req("198.51.100.20", "10.9.9.9")) == "198.51.100.20"
    assert client_ip(_req("10.1.2.3")) == "10.1.2.3"
