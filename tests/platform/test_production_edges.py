"""Production edges: a Content-Security-Policy on every page, /metrics behind a token or an
allow-list, the API schema and docs for staff only where API_DOCS_PUBLIC is off."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import make_player, make_staff

pytestmark = pytest.mark.django_db

PAGES = ["/admin/login/", "/play/", "/api/docs/", "/api/schema/", "/metrics", "/healthz"]


def _script_src(policy: str) -> str:
    return next(d for d in policy.split(";") if d.strip().startswith("script-src")).strip()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_the_policy_without_inline_script(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert _script_src(policy) == "script-src 'self'"
    assert "unsafe-eval" not in policy and "frame-ancestors 'none'" in policy


def test_admin_pages_after_login_send_the_policy(client):
    client.force_login(make_staff("administrator"))
    response = client.get("/admin/", follow=True)
    assert response.status_code == 200
    assert _script_src(response["Content-Security-Policy"]) == "script-src 'self'"


def test_html_pages_carry_no_inline_script(client):
    for path in ("/admin/login/", "/play/", "/api/docs/"):
        html = client.get(path).content.decode()
        # Every <script> names a src: no inline code for a policy without 'unsafe-inline'.
        scripts = html.split("<script")[1:]
        assert scripts, path
        assert all(" src=" in s.split(">", 1)[0] for s in scripts), path


def test_a_view_with_its_own_stricter_policy_keeps_it():
    from django.http import HttpResponse

    from common.middleware import ContentSecurityPolicyMiddleware

    def own(request):
        response = HttpResponse("doc")
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    assert ContentSecurityPolicyMiddleware(own)(None)["Content-Security-Policy"] == (
        "default-src 'none'; sandbox")


def test_the_socket_origin_of_a_split_web_tier_is_allowed():
    env = {**os.environ, "WEBSOCKET_BASE_URL": "ws://127.0.0.1:18201"}
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings;"
         "print(settings.CONTENT_SECURITY_POLICY)"],
        env=env, capture_output=True, text=True, check=True, cwd=settings.BASE_DIR).stdout
    assert "connect-src 'self' ws://127.0.0.1:18201;" in out


# --- /metrics -----------------------------------------------------------------------------


@override_settings(METRICS_PUBLIC=False, METRICS_TOKEN="scrape-" + "x" * 24,
                   METRICS_ALLOWED_NETWORKS=[])
def test_metrics_need_the_token_when_not_public(client):
    refused = client.get("/metrics")
    assert (refused.status_code, refused.json()["code"]) == (403, "metrics_forbidden")
    assert b"django_http" not in refused.content
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-wrong")
    assert wrong.status_code == 403
    spoofed = client.get("/metrics", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert spoofed.status_code == 403
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-" + "x" * 24)
    assert ok.status_code == 200 and b"django_http_requests" in ok.content


@override_settings(METRICS_PUBLIC=False, METRICS_TOKEN="", METRICS_ALLOWED_NETWORKS=["10.1.0.0/16"])
def test_metrics_from_an_allowed_network_only():
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics").status_code == 403
    # No token configured: an empty bearer is no key.
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics",
                                              HTTP_AUTHORIZATION="Bearer ").status_code == 403


# --- API docs -----------------------------------------------------------------------------


@override_settings(API_DOCS_PUBLIC=False)
@pytest.mark.parametrize("path", ["/api/docs/", "/api/schema/"])
def test_docs_are_staff_only_when_not_public(make_api, path):
    anonymous = Client().get(path)
    assert anonymous.status_code in (401, 403)
    assert b"/api/v1/payments/withdrawals/" not in anonymous.content
    assert make_api(make_player()).get(path).status_code == 403

    staff = make_staff("support_agent")
    unverified = Client()
    unverified.force_login(staff)  # password only: the admin's second factor not given
    assert unverified.get(path).status_code in (401, 403)

    verified = Client()
    verified.force_login(staff)
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    session = verified.session
    session["otp_device_id"] = device.persistent_id  # what django-otp's login stores
    session.save()
    assert verified.get(path).status_code == 200


def test_production_settings_close_metrics_and_docs():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production",
           "SECRET_KEY": secrets.token_urlsafe(48)}
    env.pop("METRICS_PUBLIC", None)
    env.pop("API_DOCS_PUBLIC", None)
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings;"
         "print(settings.METRICS_PUBLIC, settings.API_DOCS_PUBLIC)"],
        env=env, capture_output=True, text=True, check=True, cwd=settings.BASE_DIR).stdout.split()
    assert out == ["False", "False"]
