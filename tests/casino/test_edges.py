"""Issue 12 at the providers' wallet calls: bodies too deep, too large or with NUL bytes are
refused before the signature is checked, in each provider's own envelope (sandbox: the
platform's 400/413 {code, detail}; Hub88: HTTP 200, RS_ERROR_WRONG_SYNTAX), over HTTP through
the real ASGI server, and move nothing."""

from __future__ import annotations

import json
import time

import pytest

from casino.models import ProviderTransaction
from casino.signatures import hmac_sign
from tests.casino.helpers import launch, uid
from tests.casino.kit import SANDBOX_SECRET, Hub88Client, SandboxClient
from tests.factories import balances, make_player

pytestmark = [pytest.mark.e2e]


def bodies(bet: dict) -> dict[str, tuple[bytes, int, str]]:
    raw = json.dumps(bet)
    return {
        "nul": (raw.replace('"round_id": "', '"round_id": "\\u0000').replace(
            '"round": "', '"round": "\\u0000').encode(), 400, "invalid_characters"),
        "nul_key": (raw.replace('"amount"', '"amo\\u0000unt"', 1).encode(), 400,
                    "invalid_characters"),
        "deep": ((raw[:-1] + ', "x": ' + "[" * 500 + "]" * 500 + "}").encode(), 400,
                 "body_too_deep"),
        "large": ((raw[:-1] + ', "x": "' + "x" * (3 * 1024 * 1024) + '"}').encode(), 413,
                  "body_too_large"),
    }


@pytest.fixture
def funded(live_db):
    return make_player(funds={"USD": 10_000})


def test_sandbox_refuses_bad_bodies_before_the_signature(wallet_server, funded):
    client = SandboxClient(wallet_server)
    p = launch(funded, "sandbox")
    bet = {"token": p.token, "transaction_id": uid("bet"), "round_id": uid("round"),
           "game": p.game, "currency": "USD", "amount": "1.00", "round_closed": False}
    for name, (raw, status, code) in bodies(bet).items():
        for signature in (hmac_sign(secret=SANDBOX_SECRET.encode(), timestamp=int(time.time()),
                                    body=raw), "t=1,v1=" + "0" * 64):
            for _ in range(2):  # a provider retry gets the same answer
                resp = client.http.post(f"{wallet_server}/api/v1/casino/sandbox/bet",
                                        content=raw,
                                        headers={"Content-Type": "application/json",
                                                 "X-Signature": signature})
                assert (resp.status_code, resp.json()["code"]) == (status, code), name
    assert ProviderTransaction.objects.filter(player=funded).count() == 0
    assert balances(funded)["cash"] == 10_000
    assert client.bet(p, uid("bet"), uid("round"), 100).ok  # the wallet still works


def test_hub88_answers_bad_bodies_in_its_envelope(wallet_server, hub88_keys, funded):
    client = Hub88Client(wallet_server, hub88_keys[0])
    p = launch(funded, "hub88")
    bet = {"request_uuid": "req-edge-1", **client._base(p), "transaction_uuid": uid("bet"),
           "round": uid("round"), "currency": "USD", "amount": 100_000, "round_closed": False,
           "is_free": False}
    for name, (raw, _, _) in bodies(bet).items():
        resp = client.http.post(f"{wallet_server}/api/v1/casino/hub88/transaction/bet",
                                content=raw, headers={"Content-Type": "application/json",
                                                      "X-Hub88-Signature": client.sign(raw)})
        assert resp.status_code == 200, name
        data = resp.json()
        assert data["status"] == "RS_ERROR_WRONG_SYNTAX", (name, data)
        if name != "large":
            assert data["request_uuid"] == "req-edge-1"
    assert ProviderTransaction.objects.filter(player=funded).count() == 0
    assert balances(funded)["cash"] == 10_000
