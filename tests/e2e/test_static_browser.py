"""Static files load in every mode `make run` and production serve them.

The web tier is started by scripts/web.sh, as `make run` starts it (collectstatic, then
uvicorn), with the dev settings and DEBUG on, DEBUG off, and with the production settings.
A page whose stylesheet or script is missing, or whose script breaks, fails the test.
"""

import secrets

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect, sync_playwright

from backoffice.roles import roles_sync
from tests.e2e.browser import AssetWatch, launch, screenshot_dir, start_web
from tests.e2e.procs import service_env, stop
from tests.factories import make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
MODES = {
    "dev-debug": {"DJANGO_SETTINGS_MODULE": "config.settings.dev", "DEBUG": "true"},
    "dev-nodebug": {"DJANGO_SETTINGS_MODULE": "config.settings.dev", "DEBUG": "false"},
    "production": {"DJANGO_SETTINGS_MODULE": "config.settings.production", "DEBUG": "false",
                   "SECRET_KEY": secrets.token_urlsafe(48), "SECURE_SSL_REDIRECT": "false"},
}


def _open(page, url: str):
    watch = AssetWatch(page)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return watch


@pytest.mark.parametrize("mode", sorted(MODES))
def test_admin_api_docs_and_play_page_load_their_assets(mode, tmp_path, request):
    roles_sync()
    staff = make_staff("administrator")
    # The server runs the dev/production hashers, not the test settings' fast MD5.
    hasher = PBKDF2PasswordHasher()
    staff.password = hasher.encode(PASSWORD, hasher.salt())
    staff.save(update_fields=["password"])
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    env = service_env(REDIS_URL=settings.REDIS_URL, STATIC_ROOT=str(tmp_path / "static"),
                      **MODES[mode])
    server, base = start_web(env)
    out = screenshot_dir(request)
    try:
        with sync_playwright() as p:
            browser = launch(p)
            try:
                page = browser.new_context().new_page()

                watch = _open(page, f"{base}/play/")
                expect(page.locator("#login-form")).to_be_visible()
                watch.assert_clean(page)

                watch = _open(page, f"{base}/admin/login/?next=/admin/")
                watch.assert_clean(page)
                page.fill("#id_username", staff.username)
                page.fill("#id_password", PASSWORD)
                page.fill("#id_otp_token", f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}")
                page.locator("form input[type=submit], form button[type=submit]").first.click()
                expect(page).to_have_url(f"{base}/admin/")
                page.wait_for_load_state("networkidle")
                watch.assert_clean(page)
                page.screenshot(path=str(out / "admin.png"))

                # Logged in: production shows the docs to staff only (API_DOCS_PUBLIC off).
                watch = _open(page, f"{base}/api/docs/")
                # Operations render only when the bundle, the init script and the schema loaded.
                expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
                watch.assert_clean(page)
                page.screenshot(path=str(out / "api-docs.png"))
            finally:
                browser.close()
    finally:
        stop(server)
