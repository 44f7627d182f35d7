"""The platform's own Content-Security-Policy, in Debian's Chromium, against the web tier as
production runs it (scripts/web.sh, production settings, split mode: WebSockets on PORT+1).

No policy is injected here: each page lives with the header the server sends. A staff member
logs in to the admin (password + TOTP) and walks unfold's pages, reads the API docs (staff
only in production), and a player logs in on /play/ and opens a game socket. Every document
must carry the policy, no page may report a violation, and each page must still work.
"""

from __future__ import annotations

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
from tests.factories import make_player, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"

# Records every violation the page reports (init scripts run outside the page's policy).
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _server_password(user) -> None:
    # The server runs the production hashers, not the test settings' fast MD5.
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])


class Tab:
    def __init__(self, browser, base: str, out, who: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.add_init_script(WATCH_VIOLATIONS)
        self.page = self.context.new_page()
        self.base, self.out, self.who, self.shots = base, out, who, 0
        self.documents: list[tuple[str, str | None]] = []
        self.console: list[str] = []
        self.page.on("response", self._on_response)
        self.page.on("console", self._on_console)
        self.watch = AssetWatch(self.page)

    def _on_response(self, response) -> None:
        if response.request.resource_type == "document":
            self.documents.append((response.url, response.headers.get("content-security-policy")))

    def _on_console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def check(self, name: str) -> None:
        """The page works under the server's policy: it sent one, nothing was refused."""
        self.page.wait_for_load_state("networkidle", timeout=90_000)  # a loaded shared machine
        self.shots += 1
        self.page.screenshot(path=str(self.out / f"{self.who}-{self.shots:02d}-{name}.png"),
                             full_page=True)
        violations = self.page.evaluate("window.__cspViolations")
        assert violations == [] and self.console == [], "\n".join(violations + self.console)
        assert self.documents, "no document loaded"
        for url, policy in self.documents:
            assert policy, f"no Content-Security-Policy on {url}"
            script_src = [d.strip() for d in policy.split(";") if d.strip().startswith("script-src")]
            assert script_src == ["script-src 'self'"], policy  # no inline script, no eval
        self.watch.assert_clean(self.page)


@pytest.fixture
def web(tmp_path):
    env = service_env(DJANGO_SETTINGS_MODULE="config.settings.production", DEBUG="false",
                      SECRET_KEY=secrets.token_urlsafe(48), SECURE_SSL_REDIRECT="false",
                      REDIS_URL=settings.REDIS_URL, STATIC_ROOT=str(tmp_path / "static"))
    server, base = start_web(env)
    try:
        yield base
    finally:
        stop(server)


def test_admin_docs_and_play_work_under_the_servers_policy(web, request):
    roles_sync()
    staff = make_staff("administrator")
    _server_password(staff)
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    player = make_player(funds={"USD": 5_000})
    _server_password(player)
    out = screenshot_dir(request)

    with sync_playwright() as p:
        browser = launch(p)
        try:
            tab = Tab(browser, web, out, "staff")
            page = tab.page
            page.goto(f"{web}/admin/login/?next=/admin/")
            tab.check("login")

            # The policy is enforced: an inline script added to the page does not run, and
            # the watch sees the refusal (so an empty list above means something).
            page.evaluate("""() => { const s = document.createElement('script');
                                     s.textContent = 'window.__inlineRan = true';
                                     document.body.appendChild(s); }""")
            page.wait_for_function("window.__cspViolations.length > 0")
            assert page.evaluate("window.__inlineRan") is None
            page.evaluate("window.__cspViolations = []")
            tab.console.clear()
            tab.watch.problems.clear()

            page.fill("#id_username", staff.username)
            page.fill("#id_password", PASSWORD)
            page.fill("#id_otp_token",
                      f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}")
            page.locator("form input[type=submit], form button[type=submit]").first.click()
            expect(page).to_have_url(f"{web}/admin/")
            tab.check("home")

            # unfold's theme pages: a changelist with filters and a change form.
            for path, name in (("/admin/wallet/withdrawal/", "withdrawals"),
                               ("/admin/betting/market/", "markets"),
                               (f"/admin/users/user/{player.pk}/change/", "user-change")):
                page.goto(f"{web}{path}")
                expect(page.locator("#content, main").first).to_be_visible()
                tab.check(name)

            # The API docs: staff only in production; the operations render.
            page.goto(f"{web}/api/docs/")
            expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
            tab.check("api-docs")

            # A player logs in on /play/ and the game socket (PORT+1) connects.
            play = Tab(browser, web, out, "player")
            play.page.goto(f"{web}/play/")
            play.page.fill("#username", player.username)
            play.page.fill("#password", PASSWORD)
            play.page.click("#login-btn")
            expect(play.page.locator("#conn")).to_have_attribute("data-state", "in-sync",
                                                                 timeout=30_000)
            expect(play.page.locator("#balance")).to_have_text("50.00")
            play.check("play")
        finally:
            browser.close()


def test_api_docs_are_closed_to_anonymous_visitors_in_production(web):
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context().new_page()
            response = page.goto(f"{web}/api/docs/")
            assert response.status in (401, 403)
            assert page.locator(".swagger-ui .opblock").count() == 0
            metrics = page.goto(f"{web}/metrics")
            assert metrics.status == 403
        finally:
            browser.close()
