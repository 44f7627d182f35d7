"""Reality checks on /play/ in Debian's Chromium against the real ASGI server: the dialog
shows the time played and the net result, play pauses until the player continues."""

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from responsible.models import Profile
from tests.factories import make_player
from tests.sessions.helpers import (
    AVAILABLE_APPS,
    free_port,
    processes,
    server_env,
    start_asgi,
    start_redis,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True,
                          available_apps=[*AVAILABLE_APPS, "kyc", "responsible", "events"]),
]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def test_the_reality_check_dialog_pauses_play_until_the_player_continues(tmp_path):
    player = make_player(funds={"USD": 10_000})
    Profile.objects.create(player=player, reality_check_interval_s=3)
    with processes() as procs:
        redis_proc, redis_url = start_redis(tmp_path / "redis.log")
        procs.append(redis_proc)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        procs.append(start_asgi(server_env(redis_url=redis_url, GAME_SESSION_TIMEOUT_S=15),
                                port, tmp_path / "asgi.log"))
        httpx.get(f"{base}/healthz", timeout=10)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{base}/play/")
                page.fill("#username", player.username)
                page.fill("#password", "correct-horse-battery")
                page.click("#login-btn")
                expect(page.locator("#conn")).to_have_attribute("data-state", "in-sync",
                                                                 timeout=15_000)
                dialog = page.locator("#reality-check")
                expect(dialog).to_be_visible(timeout=20_000)
                expect(page.locator("#reality-check-net")).to_have_text("+0.00 USD")
                expect(page.locator("#reality-check-elapsed")).to_contain_text("s")
                page.click("#reality-check-continue")
                expect(dialog).to_be_hidden(timeout=10_000)
                page.fill("#stake", "2.00")
                page.click("#bet-btn")
                expect(page.locator("#reserved")).to_have_text("2.00", timeout=10_000)
            finally:
                browser.close()
