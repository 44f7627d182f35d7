"""Each person's main job in Debian's Chromium, through the web tier as `make run` starts it
(scripts/web.sh: collectstatic, static files served by WhiteNoise), under a strict
Content-Security-Policy (no inline script, no eval): a page whose stylesheet or script does
not load, whose script breaks or that violates the policy fails the test.

- A support agent finds a player by email, reads the summary and the timeline, adds a note
  and force-closes the player's stuck game session (the held stake comes back).
- A compliance officer opens the KYC queue (pending, oldest first), reviews the identity
  fields beside the documents, approves, and downloads an audit export whose SHA-256 matches
  the one shown where it is downloaded.

Screenshots of every step land in var/test-output/<test name>/.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect, sync_playwright

from backoffice.models import AuditExport, PlayerNote
from backoffice.roles import roles_sync
from kyc.models import KYCApplication, KYCStatus
from sessions.models import GameSession
from sessions.services import game_round_bet, game_session_start
from tests.e2e.browser import AssetWatch, launch, screenshot_dir, start_web
from tests.e2e.procs import service_env, stop, wait_for
from tests.factories import balances, make_player, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
# What the pages must live with: no inline script, no eval (Alpine runs on its CSP build).
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
              "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
              "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def _code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


class Browser:
    """One staff member's tab: strict CSP on every page, asset and script watch, screenshots."""

    def __init__(self, browser, base: str, out, who: str, *, downloads: bool = False):
        self.context = browser.new_context(accept_downloads=downloads,
                                           viewport={"width": 1440, "height": 900})
        self.page = self.context.new_page()
        self.base, self.out, self.who, self.shots = base, out, who, 0
        self.alpine_errors: list[str] = []
        self.page.route("**/*", self._strict_csp)
        self.page.on("console", self._on_console)
        self.watch = AssetWatch(self.page)

    @staticmethod
    def _strict_csp(route):
        if route.request.resource_type != "document":
            route.continue_()
            return
        response = route.fetch(max_redirects=0)  # the browser follows redirects itself
        headers = {**response.headers, "content-security-policy": STRICT_CSP}
        route.fulfill(response=response, headers=headers)

    def _on_console(self, message) -> None:
        # Alpine reports a failed expression as a warning; under CSP that is a dead widget.
        if "Alpine" in message.text or "Content Security Policy" in message.text:
            self.alpine_errors.append(message.text)

    def check(self, name: str) -> None:
        """Screenshot the page and fail on any broken asset, script or CSP violation."""
        self.page.wait_for_load_state("networkidle")
        self.shots += 1
        self.page.screenshot(path=str(self.out / f"{self.who}-{self.shots:02d}-{name}.png"),
                             full_page=True)
        self.watch.assert_clean(self.page)
        assert not self.alpine_errors, "\n".join(self.alpine_errors)

    def log_in(self, user, device) -> None:
        self.page.goto(f"{self.base}/admin/login/?next=/admin/")
        self.check("login")
        self.page.fill("#id_username", user.username)
        self.page.fill("#id_password", PASSWORD)
        self.page.fill("#id_otp_token", _code(device))
        self.page.click("#login-form [type=submit]")
        expect(self.page).to_have_url(f"{self.base}/admin/")
        self.check("home")


@pytest.fixture
def web(tmp_path):
    roles_sync()
    # Long timeouts: only the agent may close the stuck session in this story.
    server, base = start_web(service_env(GAME_SESSION_TIMEOUT_S="3600",
                                         STATIC_ROOT=str(tmp_path / "static")))
    try:
        yield base
    finally:
        stop(server)


def test_support_agent_finds_player_reads_summary_notes_and_force_closes(web, request):
    player = make_player(funds={"USD": 1_000})
    support = make_staff("support_agent")
    support.first_name, support.last_name = "Sam", "Support"
    support.save(update_fields=["first_name", "last_name"])
    device = TOTPDevice.objects.create(user=support, name="phone", confirmed=True)
    now = timezone.now()
    session = game_session_start(player=player, game="hilo", currency="USD", now=now)
    game_round_bet(session_id=session.pk, player=player, client_round_id=uuid.uuid4(), stake=200,
                   now=now)
    assert balances(player) == {"cash": 800, "reserved": 200, "bonus": 0}

    with sync_playwright() as p:
        browser = launch(p)
        try:
            tab = Browser(browser, web, screenshot_dir(request), "support")
            page = tab.page
            tab.log_in(support, device)

            # Find the player by the email they give on the phone.
            page.click("#nav-sidebar-apps >> text=Find a player")
            page.fill("input[name=q]", player.email)
            page.press("input[name=q]", "Enter")
            tab.check("search")
            page.click(f"a.player-link:has-text('{player.username}')")
            expect(page.locator("#summary")).to_be_visible()
            usd = page.locator("#balances tr[data-currency=USD]")
            expect(usd.locator(".available")).to_have_text("8.00 USD")
            expect(usd.locator(".reserved")).to_have_text("2.00 USD")
            expect(page.locator("#kyc-status")).to_contain_text("KYC")
            expect(page.locator("#live-session")).to_contain_text("hilo")
            expect(page.locator("#timeline tr[data-source=round]").first).to_be_visible()
            expect(page.locator("#timeline tr[data-source=ledger]").first).to_contain_text(
                "-2.00 USD")
            tab.check("player")

            # An internal note, with the agent's name on it.
            page.fill("#note-form textarea[name=body]", "Player says the game froze; ticket 314")
            page.click("#note-form [type=submit]")
            expect(page.locator("ul.messagelist li.success")).to_be_visible()
            expect(page.locator("#notes .bo-note").first).to_contain_text("ticket 314")
            expect(page.locator("#notes .bo-note").first).to_contain_text("Sam Support")
            expect(page.locator("#timeline tr[data-source=note]").first).to_contain_text(
                "ticket 314")
            tab.check("note")

            # Force-close the stuck session from the summary: the stake is released.
            page.click("#force-close")
            page.fill("textarea[name=reason]", "player stuck after app crash, ticket 314")
            tab.check("force-close-reason")
            page.click("input[name=_confirm]")
            expect(page.locator("ul.messagelist li.success")).to_be_visible()
            page.goto(f"{web}/admin/players/{player.pk}/")
            expect(usd.locator(".reserved")).to_have_text("0.00 USD")
            expect(usd.locator(".available")).to_have_text("10.00 USD")
            expect(page.locator("#live-session")).to_contain_text("No live session")
            closed = page.locator("#timeline tr[data-source=session]").first
            expect(closed).to_contain_text("closed")
            expect(closed).to_contain_text("Sam Support")
            tab.check("after-close")
        finally:
            browser.close()

    assert balances(player) == {"cash": 1_000, "reserved": 0, "bonus": 0}
    assert GameSession.objects.get(pk=session.pk).status == "closed"
    note = PlayerNote.objects.get(player=player)
    assert note.author == support and "ticket 314" in note.body


def _kyc_application(player) -> KYCApplication:
    """A submitted application with its documents and identity, through the player API."""
    from rest_framework.test import APIClient

    from tests.kyc.conftest import good_documents

    api = APIClient()
    api.force_authenticate(player)
    res = api.post("/api/v1/kyc/applications/", {
        **good_documents(), "full_name": "Alice Example", "date_of_birth": "1990-04-01",
        "address": "1 High Street, Leeds", "country": "GB"},
        format="multipart", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert res.status_code == 201, res.content
    return KYCApplication.objects.get(pk=res.json()["application_id"])


def test_compliance_officer_approves_kyc_from_the_queue_and_downloads_a_matching_export(
        web, request):
    # Documents land in PRIVATE_MEDIA_ROOT, which this process and the web tier share.
    player = make_player(funds={"USD": 1_000})
    application = _kyc_application(player)
    compliance = make_staff("compliance_officer")
    device = TOTPDevice.objects.create(user=compliance, name="phone", confirmed=True)
    with sync_playwright() as p:
        browser = launch(p)
        try:
            tab = Browser(browser, web, screenshot_dir(request), "compliance", downloads=True)
            page = tab.page
            tab.log_in(compliance, device)

            # The queue opens on what waits for a decision, with its age.
            page.click("#nav-sidebar-apps >> text=KYC queue")
            row = page.locator(f"#result_list tr:has-text('{application.pk}')")
            expect(row).to_contain_text("0d 0h")
            tab.check("kyc-queue")
            row.locator("a").first.click()
            # Identity fields beside the documents.
            expect(page.locator("body")).to_contain_text("Alice Example")
            expect(page.locator("body")).to_contain_text("1 High Street, Leeds")
            expect(page.locator("a.bo-zoom img").first).to_be_visible()
            tab.check("kyc-application")
            page.click("a[data-transition=start-review]")
            page.click("input[name=_confirm]")
            expect(page.locator("ul.messagelist li.success")).to_be_visible()
            page.click("a[data-transition=approve]")
            page.fill("textarea[name=reason]", "documents match the declared identity")
            page.click("input[name=_confirm]")
            expect(page.locator("ul.messagelist li.success")).to_be_visible()
            tab.check("kyc-approved")
            page.click("#nav-sidebar-apps >> text=Export the audit trail")
            page.fill("#id_player", player.username)
            page.select_option("#id_format", "jsonl")
            page.fill("#id_reason", "regulator request R-77")
            tab.check("export-form")
            with page.expect_download() as info:
                page.click("#audit-export-form [type=submit]")
            data = open(info.value.path(), "rb").read()
            # A download ends the form's navigation without a page: not a broken asset.
            tab.watch.problems = [x for x in tab.watch.problems
                                  if not (x.startswith("failed document") and "ERR_ABORTED" in x)]
            export = wait_for(lambda: AuditExport.objects.filter(
                completed_at__isnull=False).first(), 10)
            # The checksum is shown where exports are downloaded from.
            page.goto(f"{web}/admin/backoffice/auditexport/")
            expect(page.locator("#result_list")).to_contain_text(export.sha256)
            tab.check("exports")
        finally:
            browser.close()

    application = KYCApplication.objects.get(pk=application.pk)
    assert application.status == KYCStatus.APPROVED and application.reviewer == compliance
    assert export.requested_by == compliance and export.reason == "regulator request R-77"
    assert export.sha256 == hashlib.sha256(data).hexdigest()
    rows = [json.loads(line) for line in data.decode().splitlines()]
    assert export.row_count == len(rows)
    assert any(r["type"] == "ledger_entry" for r in rows)
