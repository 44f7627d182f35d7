"""Staff log in with password + TOTP; repeated failures lock them out (django-axes)."""

import pytest
from django.test import Client
from django_otp.oath import totp

from tests.factories import make_staff

from .conftest import totp_device

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def _code(device, offset=0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def _login(client, username, password=PASSWORD, token=""):
    return client.post("/admin/login/?next=/admin/", {
        "username": username, "password": password, "otp_token": token, "next": "/admin/"})


def test_login_needs_password_and_current_totp_code(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp delays retries after a wrong code
    user = make_staff("support_agent")
    device = totp_device(user)
    client = Client()
    resp = _login(client, user.username)  # no code
    assert resp.status_code == 200 and b"authenticator" in resp.content
    assert client.get("/admin/").status_code == 302
    resp = _login(client, user.username, token="000000" if _code(device) != "000000" else "111111")
    assert resp.status_code == 200 and client.get("/admin/").status_code == 302
    resp = _login(client, user.username, token=_code(device))
    assert resp.status_code == 302 and resp["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_staff_without_a_device_cannot_log_in():
    user = make_staff("support_agent")
    client = Client()
    resp = _login(client, user.username, token="123456")
    assert b"not set up" in resp.content
    assert client.get("/admin/").status_code == 302


def test_password_only_session_is_not_let_in():
    """A session authenticated without a verified device (e.g. force_login) gets no admin."""
    user = make_staff("support_agent")
    totp_device(user)
    client = Client()
    client.force_login(user)
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/players/").status_code == 302


def test_repeated_failures_lock_the_account_out(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    user = make_staff("support_agent")
    device = totp_device(user)
    client = Client()
    _login(client, user.username, password="wrong-password-1")
    _login(client, user.username, password="wrong-password-2")
    _login(client, user.username, token="999999" if _code(device) != "999999" else "888888")
    # Locked: even the right password and code are refused now.
    resp = _login(client, user.username, token=_code(device))
    assert resp.status_code in (403, 429)
    assert client.get("/admin/").status_code == 302
