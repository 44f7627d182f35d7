"""An operator watches the dashboard while the real Celery worker freezes and recovers.

Everything runs as `make run` runs it (scripts/run.sh: worker, beat, web tier with
collectstatic) on dev settings and a private Redis. The worker and its pool are stopped
with SIGSTOP: the dashboard (refreshing by itself) shows the stall as an alert raised from
outside the worker, /readyz stays 200 "degraded", and after SIGCONT the alert clears.
"""

import os
import signal
import subprocess

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect, sync_playwright

from backoffice.roles import roles_sync
from reconciliation.models import Alert
from tests.e2e.browser import AssetWatch, launch, screenshot_dir
from tests.e2e.procs import (
    ROOT,
    PrivateRedis,
    _get_ok,
    free_port,
    service_env,
    spawn,
    stop,
    wait_for,
)
from tests.factories import make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
FAST_LIVENESS = {"CELERY_HEARTBEAT_INTERVAL_S": "1", "CELERY_WORKER_STALL_S": "5",
                 "CELERY_LIVENESS_CHECK_INTERVAL_S": "2", "CELERY_PROBE_INTERVAL_S": "2"}


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _worker_pids(run_pid: int) -> list[int]:
    """The Celery worker started by run.sh and its pool processes."""
    for pid in _children(run_pid):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        if b"worker" in args and any(a.endswith(b"celery") for a in args):
            return [pid, *_children(pid)]
    return []


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def test_operator_sees_a_frozen_worker_become_an_alert_and_clear(request):
    roles_sync()
    operator = make_staff("administrator")
    hasher = PBKDF2PasswordHasher()  # the server runs the dev settings' hashers
    operator.password = hasher.encode(PASSWORD, hasher.salt())
    operator.save(update_fields=["password"])
    device = TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    out = screenshot_dir(request)

    redis = PrivateRedis()
    redis.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = service_env(DJANGO_SETTINGS_MODULE="config.settings.dev", DEBUG="false",
                      REDIS_URL=redis.url, STATIC_ROOT=str(out / "static"), **FAST_LIVENESS)
    run = spawn(["bash", str(ROOT / "scripts" / "run.sh"), "127.0.0.1", str(port)], env)
    worker: list[int] = []
    try:
        wait_for(lambda: _get_ok(f"{base}/healthz"), 90)
        wait_for(lambda: httpx.get(f"{base}/readyz", timeout=10).json()["checks"]["celery"] == "ok",
                 90, 0.5)
        worker = wait_for(lambda: _worker_pids(run.pid), 10)

        with sync_playwright() as p:
            browser = launch(p)
            try:
                page = browser.new_context(viewport={"width": 1280, "height": 1100}).new_page()
                watch = AssetWatch(page)
                page.goto(f"{base}/admin/login/?next=/admin/dashboard/")
                page.fill("#id_username", operator.username)
                page.fill("#id_password", PASSWORD)
                page.fill("#id_otp_token",
                          f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}")
                page.locator("form input[type=submit], form button[type=submit]").first.click()
                expect(page).to_have_url(f"{base}/admin/dashboard/")
                expect(page.locator("#alerts .no-alerts")).to_be_visible()
                expect(page.locator("#celery tr[data-worker] td.ok")).to_have_text("running")
                watch.assert_clean(page)
                page.screenshot(path=str(out / "1-healthy.png"), full_page=True)

                _signal(worker, signal.SIGSTOP)
                # No click: the page refreshes itself every 15 s.
                stalled = page.locator("#alerts tr[data-alert^='celery_worker_stalled:']")
                expect(stalled).to_be_visible(timeout=60_000)
                expect(stalled).to_contain_text("has sent no heartbeat")
                expect(page.locator("#celery td.stalled")).to_have_text("stalled or dead")
                page.screenshot(path=str(out / "2-worker-frozen.png"), full_page=True)
                ready = httpx.get(f"{base}/readyz", timeout=10)
                assert ready.status_code == 200 and ready.json()["status"] == "degraded"
                assert Alert.objects.filter(cleared_at__isnull=True,
                                            name__startswith="celery_worker_stalled:").count() == 1

                _signal(worker, signal.SIGCONT)
                expect(page.locator("#alerts .no-alerts")).to_be_visible(timeout=60_000)
                expect(page.locator("#celery tr[data-worker] td.ok")).to_have_text("running")
                page.screenshot(path=str(out / "3-recovered.png"), full_page=True)
                assert not Alert.objects.filter(cleared_at__isnull=True,
                                                name__startswith="celery_").exists()
                assert Alert.objects.filter(name__startswith="celery_worker_stalled:",
                                            cleared_at__isnull=False).count() == 1
            finally:
                browser.close()
    finally:
        _signal(worker, signal.SIGCONT)
        stop(run)
        redis.stop()
