"""The game socket's credential never reaches a log line, even with uvicorn's access log on
(issue 12): a real uvicorn at --log-level info, a real socket opened with the token."""

from __future__ import annotations

import json
import os
import uuid

import httpx
import pytest
from websockets.sync.client import connect

from common.logging import redact_credentials
from tests.factories import make_player, make_token
from tests.sessions.helpers import AVAILABLE_APPS, BIN, ROOT, _wait_port, processes, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True,
                                                     available_apps=AVAILABLE_APPS)]


def _port() -> int:
    import socket

    for port in range(18150, 18199):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18150-18198")


def test_redaction_keeps_everything_but_the_value():
    line = '127.0.0.1:5 - "WebSocket /ws/games/sessions/1/?token=abc123&x=1" [accepted]'
    assert redact_credentials(line) == (
        '127.0.0.1:5 - "WebSocket /ws/games/sessions/1/?token=[redacted]&x=1" [accepted]')


def test_socket_token_is_not_in_uvicorn_logs(tmp_path):
    import subprocess

    player = make_player(funds={"USD": 1_000})
    key = make_token(player)
    log = tmp_path / "uvicorn.log"
    port = _port()
    env = server_env(redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
                     LOG_LEVEL="INFO")
    with processes() as started:
        proc = subprocess.Popen(
            [str(BIN / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "info"],
            cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        started.append(proc)
        _wait_port(port, proc)
        base = f"http://127.0.0.1:{port}"
        resp = httpx.post(f"{base}/api/v1/games/sessions/", json={"game": "hilo", "currency": "USD"},
                          headers={"Authorization": f"Bearer {key}",
                                   "Idempotency-Key": uuid.uuid4().hex}, timeout=20)
        assert resp.status_code == 201, resp.text
        ws_url = resp.json()["ws_url"]
        ws_token = ws_url.split("token=", 1)[1]
        assert len(ws_token) >= 32
        with connect(ws_url, origin=base, open_timeout=20) as ws:
            assert json.loads(ws.recv(timeout=20))["type"] == "session_state"
        # A token in an HTTP query string is redacted from the access line as well.
        httpx.get(f"{base}/healthz?token={ws_token}", timeout=10)
    text = log.read_text()
    assert '"WebSocket /ws/games/sessions/' in text  # the lines are there...
    assert "token=[redacted]" in text
    assert ws_token not in text  # ...without the credential
    assert key not in text
