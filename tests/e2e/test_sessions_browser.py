"""Field report 3 in a real browser: the DevTools "Offline" check, then a second login.

/play/ in Debian's Chromium against the real ASGI server: bet, go offline, wait out the
timeout; the API must show the session expired and the balance whole. Then a login from a
second browser context must supersede the first page's session.
"""

import time
import uuid

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.factories import make_player
from tests.sessions.helpers import (
    AVAILABLE_APPS,
    free_port,
    processes,
    server_env,
    start_asgi,
    start_redis,
    wait_until,
)

TIMEOUT_S = 3

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, available_apps=AVAILABLE_APPS),
]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def log_in(page, base, username):
    page.goto(f"{base}/play/")
    page.fill("#username", username)
    page.fill("#password", "correct-horse-battery")
    page.click("#login-btn")
    expect(page.locator("#conn")).to_have_attribute("data-state", "in-sync", timeout=10_000)


def test_offline_player_is_released_and_a_second_login_supersedes(tmp_path):
    player = make_player(funds={"USD": 10_000})
    with processes() as procs:
        redis_proc, redis_url = start_redis(tmp_path / "redis.log")
        procs.append(redis_proc)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api = httpx.Client(base_url=base, timeout=10)
        procs.append(start_asgi(server_env(redis_url=redis_url), port, tmp_path / "asgi.log"))
        token = api.post("/api/v1/auth/token/", json={"username": player.username,
                                                       "password": "correct-horse-battery"})
        api.headers["Authorization"] = f"Bearer {token.json()['token']}"

        def session(sid):
            return api.get(f"/api/v1/games/sessions/{sid}/").json()

        def usd():
            return next(w for w in api.get("/api/v1/wallets/").json() if w["currency"] == "USD")

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                first = browser.new_context()
                page = first.new_page()
                log_in(page, base, player.username)
                expect(page.locator("#balance")).to_have_text("100.00")

                page.fill("#stake", "2.00")
                page.click("#bet-btn")
                expect(page.locator("#reserved")).to_have_text("2.00")
                expect(page.locator("#card")).not_to_have_text("·")
                first_id = page.locator("#session-id").inner_text()
                assert usd()["reserved"] == "2.00"

                first.set_offline(True)
                # the page says it is out of sync and refuses to bet
                expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
                expect(page.locator("#sync-hint")).to_contain_text("Reconnecting")
                expect(page.locator("#higher-btn")).to_be_disabled()
                offline_at = time.monotonic()

                assert wait_until(lambda: session(first_id)["status"] == "expired",
                                  timeout=TIMEOUT_S + 5, interval=0.2), session(first_id)
                print(f"\nexpired {time.monotonic() - offline_at:.2f}s after going offline")
                assert session(first_id)["close_reason"] == "timeout"
                assert usd() == {"currency": "USD", "available": "100.00", "reserved": "0.00",
                                 "bonus": "0.00"}

                first.set_offline(False)
                expect(page.locator("#conn")).to_have_attribute("data-state", "expired",
                                                                timeout=10_000)
                page.click("#start-btn")
                expect(page.locator("#conn")).to_have_attribute("data-state", "in-sync",
                                                                timeout=10_000)
                expect(page.locator("#balance")).to_have_text("100.00")
                resumed_id = page.locator("#session-id").inner_text()
                assert resumed_id != first_id and session(resumed_id)["status"] == "live"

                # another device logs in: the first page's session is superseded, not doubled
                second = browser.new_context()
                other = second.new_page()
                log_in(other, base, player.username)
                expect(page.locator("#conn")).to_have_attribute("data-state", "superseded",
                                                                timeout=10_000)
                expect(page.locator("#bet-btn")).to_be_disabled()
                assert session(resumed_id)["status"] == "superseded"
                other_id = other.locator("#session-id").inner_text()
                assert session(other_id)["status"] == "live"
                live = [s for s in api.get("/api/v1/games/sessions/").json() if s["status"] == "live"]
                assert [s["id"] for s in live] == [other_id]
                assert uuid.UUID(other_id)
            finally:
                browser.close()
