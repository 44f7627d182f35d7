"""/play/ in Debian's Chromium against the real ASGI server: the page follows the session's
end without a click (force-close by staff, expiry while offline) and says refusals the way a
player reads them. Its script and styles are static files (no inline script: CSP)."""

import re
import time

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from sessions.models import GameSession
from sessions.services import game_session_close
from tests.e2e.browser import AssetWatch, launch, screenshot_dir
from tests.factories import balances, make_player, make_staff
from tests.sessions.helpers import (
    AVAILABLE_APPS,
    free_port,
    processes,
    server_env,
    start_asgi,
    start_celery,
    wait_until,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, available_apps=[*AVAILABLE_APPS, "backoffice",
                                                            "reconciliation", "kyc"]),
]

TIMEOUT_S = 6


@pytest.fixture
def server(tmp_path):
    with processes() as procs:
        port = free_port()
        # The test process's Redis: its channel layer reaches the server's sockets.
        env = server_env(redis_url=settings.REDIS_URL, GAME_SESSION_TIMEOUT_S=str(TIMEOUT_S))
        procs.append(start_asgi(env, port, tmp_path / "asgi.log"))
        # Worker and beat as `make run` starts them: the sweeper expires a session whose
        # ASGI timer missed (a loaded machine), which is what a player relies on.
        procs.append(start_celery(env, tmp_path / "celery.log"))
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def browser():
    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


def _play(browser, base, player):
    context = browser.new_context()
    page = context.new_page()
    watch = AssetWatch(page)
    page.goto(f"{base}/play/")
    page.fill("#username", player.username)
    page.fill("#password", "correct-horse-battery")
    page.click("#login-btn")
    expect(page.locator("#conn")).to_have_attribute("data-state", "in-sync", timeout=15_000)
    watch.assert_clean(page)
    return context, page


def _bet(page, stake="2.00"):
    page.fill("#stake", stake)
    page.click("#bet-btn")
    expect(page.locator("#reserved")).to_have_text(stake)
    expect(page.locator("#card")).not_to_have_text("·")
    expect(page.locator("#result")).to_contain_text("Round open")


def _round_cleared(page):
    expect(page.locator("#card")).to_have_text("·")
    expect(page.locator("#result")).not_to_contain_text("Round open")
    expect(page.locator("#bet-btn")).to_be_disabled()
    expect(page.locator("#higher-btn")).to_be_disabled()


def test_page_has_no_inline_script_or_style(server):
    html = httpx.get(f"{server}/play/").text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html and " style=" not in html and "onclick" not in html


def test_force_close_by_staff_reloads_balance_and_clears_round(server, browser, request):
    player = make_player(funds={"USD": 10_000})
    _, page = _play(browser, server, player)
    _bet(page)
    session = GameSession.objects.get(player=player, status="live")

    game_session_close(session_id=session.pk, actor=make_staff("support_agent"),
                       reason="ticket 77", now=timezone.now())

    # No click: the page follows the close and shows what the server holds now.
    expect(page.locator("#conn")).to_have_attribute("data-state", "closed", timeout=10_000)
    expect(page.locator("#sync-hint")).to_contain_text("Support closed this session")
    expect(page.locator("#reserved")).to_have_text("0.00")
    expect(page.locator("#balance")).to_have_text("100.00")
    _round_cleared(page)
    page.screenshot(path=str(screenshot_dir(request) / "closed.png"), full_page=True)
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


def test_offline_page_shows_expiry_once_the_timeout_passed(server, browser, request):
    player = make_player(funds={"USD": 10_000})
    context, page = _play(browser, server, player)
    _bet(page)
    session = GameSession.objects.get(player=player, status="live")

    context.set_offline(True)
    offline_at = time.monotonic()
    expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    # Still offline: the page cannot hear the close, it knows the timeout has passed.
    expect(page.locator("#conn")).to_have_attribute("data-state", "expired",
                                                    timeout=(TIMEOUT_S + 10) * 1000)
    elapsed = time.monotonic() - offline_at
    assert elapsed >= TIMEOUT_S - 1.5, f"expired after {elapsed:.1f}s, before the timeout"
    expect(page.locator("#sync-hint")).to_contain_text("The session expired")
    expect(page.locator("#balance-note")).to_have_text(
        "Balance will refresh when you are back online.")
    _round_cleared(page)
    page.screenshot(path=str(screenshot_dir(request) / "expired-offline.png"), full_page=True)
    assert wait_until(lambda: GameSession.objects.get(pk=session.pk).status == "expired",
                      timeout=15, interval=0.2)

    context.set_offline(False)
    expect(page.locator("#reserved")).to_have_text("0.00", timeout=10_000)
    expect(page.locator("#balance")).to_have_text("100.00")
    expect(page.locator("#balance-note")).to_have_text("")
    expect(page.locator("#conn")).to_have_attribute("data-state", "expired")
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


@pytest.mark.parametrize(("stake", "message"), [
    ("1.001", "That stake is not valid: USD amounts have at most 2 decimals."),
    ("abc", 'That stake is not valid: Amounts must be plain decimal strings such as "12.50".'),
    ("0", "That stake is not valid: The amount must be greater than zero."),
    ("500.00", "Your balance is too low for this stake."),
])
def test_refused_stake_reads_as_a_sentence(server, browser, stake, message):
    player = make_player(funds={"USD": 10_000})
    _, page = _play(browser, server, player)
    page.fill("#stake", stake)
    page.click("#bet-btn")
    result = page.locator("#result")
    expect(result).to_have_text(message)
    text = result.inner_text()
    assert "[" not in text and "_" not in text
    expect(page.locator("#balance")).to_have_text("100.00")
    expect(page.locator("#reserved")).to_have_text("0.00")
    expect(page.locator("#bet-btn")).to_be_enabled()
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}
