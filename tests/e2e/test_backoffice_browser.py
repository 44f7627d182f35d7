"""The backoffice in Debian's Chromium against the real ASGI server.

A support agent logs in with password + TOTP, finds a player, force-closes their stuck game
session and sees the held stake released; a compliance officer downloads an audit export
whose SHA-256 matches the recorded one.
"""

import hashlib
import json
import socket
import uuid

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect, sync_playwright

from backoffice.models import AuditExport
from backoffice.roles import roles_sync
from tests.e2e.procs import _get_ok, service_env, spawn, stop, wait_for
from tests.factories import balances, make_player, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "correct-horse-battery"
PORTS = range(18500, 18600)  # this suite's own port range


def _port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18500-18599")


def _code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _log_in(page, base, user, device):
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", _code(device))
    page.click("#login-form [type=submit]")
    expect(page).to_have_url(f"{base}/admin/")


def test_support_force_closes_stuck_session_and_compliance_exports():
    from sessions.services import game_round_bet, game_session_start

    roles_sync()
    player = make_player(funds={"USD": 1_000})
    support = make_staff("support_agent")
    compliance = make_staff("compliance_officer")
    support_device = TOTPDevice.objects.create(user=support, name="phone", confirmed=True)
    compliance_device = TOTPDevice.objects.create(user=compliance, name="phone", confirmed=True)
    now = timezone.now()
    session = game_session_start(player=player, game="hilo", currency="USD", now=now)
    game_round_bet(session_id=session.pk, player=player, client_round_id=uuid.uuid4(), stake=200,
                   now=now)
    assert balances(player) == {"cash": 800, "reserved": 200, "bonus": 0}

    port = _port()
    base = f"http://127.0.0.1:{port}"
    server = spawn([".venv/bin/uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                    "--port", str(port), "--log-level", "warning"],
                   service_env(REDIS_URL="redis://127.0.0.1:6379/5",
                               # long timeouts: only the agent may close this session
                               GAME_SESSION_TIMEOUT_S="3600"))
    try:
        wait_for(lambda: _get_ok(f"{base}/healthz"), 30)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                # --- support agent ----------------------------------------------------------
                page = browser.new_context().new_page()
                _log_in(page, base, support, support_device)
                page.click("#nav-sidebar-apps >> text=Find a player")
                page.fill("input[name=q]", player.email)
                page.press("input[name=q]", "Enter")
                page.click(f"a.player-link:has-text('{player.username}')")
                usd = page.locator("#balances tr[data-currency=USD]")
                expect(usd.locator(".reserved")).to_have_text("2.00")
                expect(usd.locator(".available")).to_have_text("8.00")

                page.locator("#game_sessionsgamesession a.open-link").first.click()
                page.click("a[data-transition=force_close]")
                page.fill("textarea[name=reason]", "player stuck after app crash, ticket 314")
                page.click("input[name=_confirm]")
                expect(page.locator("ul.messagelist li.success")).to_be_visible()

                page.goto(f"{base}/admin/players/{player.pk}/")
                expect(usd.locator(".reserved")).to_have_text("0.00")
                expect(usd.locator(".available")).to_have_text("10.00")
                assert balances(player) == {"cash": 1_000, "reserved": 0, "bonus": 0}

                # --- compliance officer -----------------------------------------------------
                page2 = browser.new_context(accept_downloads=True).new_page()
                _log_in(page2, base, compliance, compliance_device)
                page2.goto(f"{base}/admin/audit-export/")
                page2.fill("#id_player", player.username)
                page2.select_option("#id_format", "jsonl")
                page2.fill("#id_reason", "regulator request R-77")
                with page2.expect_download() as info:
                    page2.click("#audit-export-form input[type=submit]")
                download = info.value
                data = open(download.path(), "rb").read()
            finally:
                browser.close()
    finally:
        stop(server)

    export = wait_for(lambda: AuditExport.objects.filter(completed_at__isnull=False).first(), 10)
    assert export.requested_by == compliance and export.reason == "regulator request R-77"
    assert export.sha256 == hashlib.sha256(data).hexdigest()
    rows = [json.loads(line) for line in data.decode().splitlines()]
    assert export.row_count == len(rows)
    closes = [r for r in rows if r["source"] == "game_sessions.gamesession"
              and r["actor"] == support.username]
    assert closes and "ticket 314" in " ".join(r["reason"] for r in closes)
    assert any(r["type"] == "ledger_entry" and r["action"] == "round_stake" for r in rows)
