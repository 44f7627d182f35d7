"""seed_demo never runs in production; TOTP secrets never appear in the admin; staff
admin sessions end after the idle and absolute limits from settings (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.backoffice.conftest import verified_client
from tests.factories import make_staff
from users.models import User

pytestmark = pytest.mark.django_db

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_seed_demo_refuses_production_settings_in_process(settings):
    settings.DEMO_DATA_ALLOWED = False
    before = User.objects.count()
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert User.objects.count() == before
    assert not User.objects.filter(username="administrator").exists()


def test_seed_demo_exits_non_zero_under_settings_production():
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production",
           "SECRET_KEY": "p" * 64, "SECURE_SSL_REDIRECT": "false",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "LOG_LEVEL": "WARNING"}
    before = User.objects.count()
    proc = subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "refuses to run under production settings" in proc.stderr
    assert User.objects.count() == before


def test_totp_secret_is_never_on_the_admin_pages():
    admin = make_staff("administrator")
    admin.is_superuser = True
    admin.save()
    client = verified_client(admin)
    staff = make_staff("payments")
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    secrets = [device.key, device.config_url.split("secret=")[1].split("&")[0]]
    for url in ("/admin/otp_totp/totpdevice/",
                f"/admin/otp_totp/totpdevice/{device.pk}/change/"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = resp.content.decode()
        assert staff.username in html  # the page did render the device
        for secret in secrets:
            assert secret not in html and secret.lower() not in html.lower(), url
        assert "otpauth://" not in html
    for url in (f"/admin/otp_totp/totpdevice/{device.pk}/config/",
                f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/"):
        assert client.get(url).status_code == 403


def test_staff_admin_session_idle_and_absolute_limits(settings):
    settings.AUTH_STAFF_SESSION_IDLE_S = 600
    settings.AUTH_STAFF_SESSION_MAX_AGE_S = 3600
    staff = make_staff("support_agent")
    client = verified_client(staff)
    assert client.get("/admin/").status_code == 200
    # Idle past the limit: logged out.
    session = client.session
    session["_staff_seen_at"] = time.time() - 601
    session.save()
    assert client.get("/admin/").status_code == 302
    # A fresh login, active all along, but past the absolute limit: logged out too.
    client = verified_client(staff)
    assert client.get("/admin/").status_code == 200
    session = client.session
    session["_staff_login_at"] = time.time() - 3601
    session["_staff_seen_at"] = time.time()
    session.save()
    assert client.get("/admin/").status_code == 302
    assert settings.SESSION_COOKIE_AGE <= 8 * 3600


def test_staff_session_defaults_are_short():
    from django.conf import settings

    assert settings.AUTH_STAFF_SESSION_IDLE_S == 900
    assert settings.AUTH_STAFF_SESSION_MAX_AGE_S == 8 * 3600
    assert settings.SESSION_COOKIE_AGE == 8 * 3600  # not Django's two weeks


def test_support_logs_a_device_out_from_the_admin_with_a_reason():
    from rest_framework.test import APIClient

    from backoffice.roles import roles_sync
    from tests.factories import make_player, make_token
    from users.models import AuthToken

    roles_sync()
    agent = make_staff("support_agent")
    client = verified_client(agent)
    player = make_player()
    key = make_token(player)
    token = AuthToken.objects.get(user=player)
    page = client.get(f"/admin/users/authtoken/{token.pk}/change/")
    assert page.status_code == 200 and b"Log this device out" in page.content
    assert token.digest.encode() not in page.content
    url = f"/admin/users/authtoken/{token.pk}/transition/revoke/"
    assert client.post(url, {"reason": ""}).status_code == 200  # asks for a reason again
    token.refresh_from_db()
    assert token.revoked_at is None
    resp = client.post(url, {"reason": "player reported a stolen phone"})
    assert resp.status_code == 302
    token.refresh_from_db()
    assert token.revoked_by_id == agent.pk and token.revoke_reason == "player reported a stolen phone"
    last = AuthToken.history.filter(id=token.pk).order_by("-history_id").first()
    assert (last.history_user_id, last.history_change_reason) == (
        agent.pk, "player reported a stolen phone")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/wallets/").status_code == 401
