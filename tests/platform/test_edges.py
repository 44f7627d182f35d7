"""Issue 12, the edges: bodies too large, too deep or with NUL bytes are a stable 4xx on
every endpoint, before signatures and Idempotency-Keys, and leave nothing behind.

Through Django's full middleware stack and views against PostgreSQL and Redis, plus one run
against a live uvicorn server (the ASGI path a deployment takes).
"""

from __future__ import annotations

import json
import re
import time
import uuid

import httpx
import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from common.edges import json_depth_exceeds
from common.models import IdempotencyRecord
from tests.factories import balances, make_player
from tests.wallet.conftest import signed_post
from wallet.models import Deposit, ProviderCallback, Transaction, Withdrawal

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("no_withdrawal_gates")]


@pytest.fixture
def no_withdrawal_gates(settings):
    settings.COMPLIANCE_GATES = []


def deep(levels: int, inner: str = '"x"') -> str:
    return "[" * levels + inner + "]" * levels


def deep_object(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


BAD_BODIES = {
    "deep_500": (deep(500), 400, "body_too_deep"),
    "deep_100000": (deep(100_000), 400, "body_too_deep"),
    "deep_33_objects": (deep_object(33), 400, "body_too_deep"),
    "unclosed_10000": ("[" * 10_000, 400, "body_too_deep"),
    "too_large_3mb": (json.dumps({"amount": "1.00", "pad": "x" * (3 * 1024 * 1024)}), 413,
                      "body_too_large"),
    "nul_in_value": ('{"amount": "5.00", "currency": "USD\\u0000", "destination": "x"}', 400,
                     "invalid_characters"),
    "nul_in_key": ('{"amo\\u0000unt": "5.00", "currency": "USD"}', 400, "invalid_characters"),
    "raw_nul": ('{"amount": "5.00\x00"}', 400, "invalid_characters"),
    "lone_surrogate": ('{"destination": "\\ud800"}', 400, "invalid_characters"),
}


# --- the detector itself --------------------------------------------------------------------


def test_depth_is_measured_exactly_and_strings_do_not_count():
    assert not json_depth_exceeds(deep(32).encode(), 32)
    assert json_depth_exceeds(deep(33).encode(), 32)
    assert not json_depth_exceeds(json.dumps({"s": "[[[[" * 100, "t": "\\\"[[["}).encode(), 2)
    assert not json_depth_exceeds(b"[" + b"[1],[2]," * 50_000 + b"[3]]", 32)
    started = time.monotonic()
    assert json_depth_exceeds(deep(500_000).encode(), 32)
    assert time.monotonic() - started < 1.0


def test_an_escaped_backslash_before_u0000_is_not_a_nul():
    client = APIClient()
    player = make_player(funds={"USD": 10_000})
    client.force_authenticate(player)
    resp = client.post("/api/v1/payments/withdrawals/",
                       data='{"amount": "1.00", "currency": "USD", "destination": "a\\\\u0000"}',
                       content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert resp.status_code == 201, resp.json()
    assert Withdrawal.objects.get(player=player).destination == "a\\u0000"


# --- every endpoint -------------------------------------------------------------------------

_SAMPLES = {"uuid": lambda name: str(uuid.uuid4()), "int": lambda name: "1",
            "slug": lambda name: "sandbox" if name == "provider" else "x",
            "str": lambda name: "x", "path": lambda name: "x"}
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = str(entry.pattern)
        if route.startswith("^"):
            continue  # regex routes (the casino wallet calls) are listed explicitly below
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route


def every_api_path() -> list[str]:
    paths = set()
    for route in _walk(get_resolver().url_patterns):
        if not route.startswith("api/"):
            continue
        concrete = _CONVERTER.sub(lambda m: _SAMPLES[m.group(1) or "str"](m.group(2)), route)
        paths.add("/" + concrete)
    # The providers' wallet calls (a regex route).
    paths |= {"/api/v1/casino/sandbox/bet", "/api/v1/casino/sandbox/balance"}
    return sorted(paths)


def test_the_walk_covers_player_backoffice_webhook_and_casino_endpoints():
    paths = every_api_path()
    assert len(paths) > 40
    for expected in ("/api/v1/payments/withdrawals/", "/api/v1/payments/webhooks/sandbox/",
                     "/api/v1/betting/bets/", "/api/v1/auth/register/", "/api/v1/auth/token/",
                     "/api/v1/casino/sandbox/bet"):
        assert expected in paths
    assert any(p.startswith("/api/v1/backoffice/") for p in paths)


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_every_endpoint_refuses_bad_bodies_with_a_stable_code(name):
    body, status, code = BAD_BODIES[name]
    player = make_player(funds={"USD": 10_000})
    client = APIClient()
    client.force_authenticate(player)
    wrong = {}
    for path in every_api_path():
        for method in ("post", "patch"):
            resp = getattr(client, method)(path, data=body, content_type="application/json",
                                           HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
                                           HTTP_X_SIGNATURE="t=1,v1=" + "0" * 64)
            got = (resp.status_code, resp.json().get("code"))
            if got != (status, code):
                wrong[f"{method} {path}"] = got
    assert wrong == {}
    assert IdempotencyRecord.objects.count() == 0
    assert Transaction.objects.filter(entries__account__owner=player).distinct().count() == 1
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


def test_query_strings_and_forms_with_nul_are_refused():
    client = APIClient()
    client.force_authenticate(make_player())
    resp = client.get("/api/v1/wallets/transactions/?cursor=%00")
    assert (resp.status_code, resp.json()["code"]) == (400, "invalid_characters")
    resp = client.post("/api/v1/payments/withdrawals/", data="amount=1.00&currency=USD%00",
                       content_type="application/x-www-form-urlencoded",
                       HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert (resp.status_code, resp.json()["code"]) == (400, "invalid_characters")


# --- nothing stuck ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["deep_500", "too_large_3mb", "nul_in_value", "nul_in_key"])
def test_a_refused_body_leaves_its_idempotency_key_free(name):
    body, status, code = BAD_BODIES[name]
    player = make_player(funds={"USD": 10_000})
    client = APIClient()
    client.force_authenticate(player)
    key = uuid.uuid4().hex
    resp = client.post("/api/v1/payments/withdrawals/", data=body,
                       content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)
    assert (resp.status_code, resp.json()["code"]) == (status, code)
    assert not IdempotencyRecord.objects.filter(key=key).exists()
    good = client.post("/api/v1/payments/withdrawals/",
                       {"amount": "25.00", "currency": "USD", "destination": "iban:DE00"},
                       format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert good.status_code == 201, good.json()
    assert balances(player) == {"cash": 7_500, "reserved": 2_500, "bonus": 0}


def test_a_signed_webhook_with_a_nul_byte_is_400_on_every_retry():
    player = make_player()
    client = APIClient()
    client.force_authenticate(player)
    deposit = client.post("/api/v1/payments/deposits/",
                          {"amount": "25.00", "currency": "USD", "provider": "sandbox"},
                          format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex).json()
    raw = json.dumps({"event": "deposit.succeeded", "provider_transaction_id": "psp-\u0000",
                      "reference": deposit["id"], "amount": "25.00", "currency": "USD"}).encode()
    for _ in range(3):  # the provider retries
        resp = signed_post(APIClient(), None, body=raw)
        assert (resp.status_code, resp.json()["code"]) == (400, "invalid_characters")
    assert ProviderCallback.objects.count() == 0
    assert balances(player) == {"cash": 0, "reserved": 0, "bonus": 0}


def test_a_3mb_webhook_is_413_before_its_signature_is_checked():
    raw = json.dumps({"event": "deposit.succeeded", "pad": "x" * (3 * 1024 * 1024)}).encode()
    resp = signed_post(APIClient(), None, body=raw)
    assert (resp.status_code, resp.json()["code"]) == (413, "body_too_large")
    resp = APIClient().post("/api/v1/payments/webhooks/sandbox/", data=raw,
                            content_type="application/json")  # unsigned: still 413, not 401
    assert (resp.status_code, resp.json()["code"]) == (413, "body_too_large")


def test_depth_at_the_limit_still_reaches_the_view():
    client = APIClient()
    client.force_authenticate(make_player(funds={"USD": 10_000}))
    body = json.dumps({"amount": "1.00", "currency": "USD", "destination": json.loads(deep(30))})
    resp = client.post("/api/v1/payments/withdrawals/", data=body,
                       content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"


# --- the live ASGI server -------------------------------------------------------------------


@pytest.fixture
def live_server_base(django_db_setup):
    from tests.e2e.procs import service_env, start_asgi, stop

    proc, base = start_asgi(service_env(LOG_LEVEL="WARNING"))
    try:
        yield base
    finally:
        stop(proc)


def test_a_live_server_answers_every_attack_with_its_code(live_server_base):
    player = make_player()
    with httpx.Client(base_url=live_server_base, timeout=60) as http:
        token = http.post("/api/v1/auth/token/", json={
            "username": player.username, "password": "correct-horse-battery"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        key = uuid.uuid4().hex
        for name in ("deep_100000", "too_large_3mb", "nul_in_key", "nul_in_value"):
            body, status, code = BAD_BODIES[name]
            resp = http.post("/api/v1/payments/deposits/", content=body.encode(),
                             headers={**headers, "Idempotency-Key": key})
            assert (resp.status_code, resp.json()["code"]) == (status, code), name
        good = http.post("/api/v1/payments/deposits/", headers={**headers,
                                                                "Idempotency-Key": key},
                         json={"amount": "10.00", "currency": "USD", "provider": "sandbox"})
        assert good.status_code == 201, good.text
    assert Deposit.objects.filter(player=player).count() == 1


def test_the_idempotency_fingerprint_refuses_depth_the_edge_let_through(settings):
    """Defence in depth: with the edge limit raised, the fingerprint's recursion (a 500 with
    RecursionError before) becomes 400 body_too_deep and claims nothing."""
    settings.REQUEST_JSON_MAX_DEPTH = 100_000
    client = APIClient()
    player = make_player(funds={"USD": 10_000})
    client.force_authenticate(player)
    key = uuid.uuid4().hex
    body = '{"amount": "1.00", "currency": "USD", "destination": ' + deep(900) + "}"
    resp = client.post("/api/v1/payments/withdrawals/", data=body,
                       content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)
    assert (resp.status_code, resp.json()["code"]) == (400, "body_too_deep")
    assert not IdempotencyRecord.objects.filter(key=key).exists()
    assert Withdrawal.objects.filter(player=player).count() == 0
