"""Playwright helpers shared by the browser tests: Debian's Chromium, and a watch that fails
a test when a page's stylesheet, script, font or image does not load or a script breaks."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tests.e2e.procs import ROOT, _get_ok, free_port, spawn, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ASSET_TYPES = {"stylesheet", "script", "font", "image", "document"}


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _free_port_pair() -> int:
    """A port whose next port is free too (a busy PORT+1 would stop the whole tier)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports")


def start_web(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """The web tier exactly as `make run` starts it (scripts/web.sh: collectstatic, uvicorn)."""
    port = _free_port_pair()  # split mode serves WebSockets on PORT+1
    proc = spawn(["bash", str(ROOT / "scripts" / "web.sh"), "127.0.0.1", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: proc.poll() is None and _get_ok(f"{base}/healthz") or proc.poll() is not None,
             60)
    assert proc.poll() is None, f"web tier exited with {proc.returncode}"
    return proc, base


class AssetWatch:
    """Collects every asset that failed to load and every script error on a page."""

    def __init__(self, page, *, ignore_console: tuple[str, ...] = ()):
        self.problems: list[str] = []
        self._ignore = ignore_console
        page.on("response", self._on_response)
        page.on("requestfailed", self._on_failed)
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))

    def _on_response(self, response) -> None:
        if response.request.resource_type in ASSET_TYPES and response.status >= 400:
            self.problems.append(f"{response.status} {response.request.resource_type} {response.url}")

    def _on_failed(self, request) -> None:
        if request.resource_type in ASSET_TYPES:
            self.problems.append(f"failed {request.resource_type} {request.url}: {request.failure}")

    def _on_console(self, message) -> None:
        if message.type == "error" and not any(s in message.text for s in self._ignore):
            where = message.location.get("url", "") if message.location else ""
            self.problems.append(f"console error: {message.text} {where}")

    def assert_clean(self, page) -> None:
        """No asset failed, no script broke, and every stylesheet on the page has rules."""
        empty = page.evaluate(
            """() => [...document.querySelectorAll('link[rel=stylesheet]')]
                 .filter(l => { try { return !l.sheet || l.sheet.cssRules.length === 0; }
                                catch (e) { return false; } })
                 .map(l => l.href)""")
        problems = self.problems + [f"stylesheet without rules: {href}" for href in empty]
        assert not problems, "page assets broken:\n" + "\n".join(problems)


def screenshot_dir(request) -> Path:
    """var/test-output/<test name>/: where a browser test leaves its screenshots."""
    path = ROOT / "var" / "test-output" / request.node.name.replace("/", "_")
    path.mkdir(parents=True, exist_ok=True)
    return path

