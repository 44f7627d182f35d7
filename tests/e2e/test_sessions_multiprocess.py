"""Field report 3 end to end: the real ASGI server (uvicorn) and a Celery worker with beat.

A client opens a hilo round and goes silent without closing its socket; the reserved stake
must come back within timeout + sweep interval + a margin, by itself. Then the same with the
ASGI process killed by SIGKILL (its timer dies with it): the sweeper alone releases, once.
"""

import json
import signal
import time
import uuid

import httpx
import pytest
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from sessions.models import GameSession
from tests.factories import balances, make_player, make_token
from tests.sessions.helpers import (
    AVAILABLE_APPS,
    free_port,
    processes,
    server_env,
    start_asgi,
    start_celery,
    start_redis,
    wait_until,
)
from wallet.models import Transaction

TIMEOUT_S, SWEEP_S, MARGIN_S = 3, 1, 4

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, available_apps=AVAILABLE_APPS + ["django_celery_beat"]),
]


def open_round(base: str, origin: str, player) -> tuple[GameSession, object]:
    token = make_token(player)
    resp = httpx.post(f"{base}/api/v1/games/sessions/", json={"game": "hilo", "currency": "USD"},
                      headers={"Authorization": f"Bearer {token}",
                               "Idempotency-Key": uuid.uuid4().hex}, timeout=10)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["timeout_s"] == TIMEOUT_S and body["heartbeat_interval_s"] == 1
    ws = connect(body["ws_url"], origin=origin, open_timeout=10)
    assert json.loads(ws.recv(timeout=10))["type"] == "session_state"
    ws.send(json.dumps({"type": "bet", "round_id": str(uuid.uuid4()), "stake": "7.00"}))
    accepted = json.loads(ws.recv(timeout=10))
    assert accepted["type"] == "bet_accepted" and accepted["reserved"] == "7.00", accepted
    return GameSession.objects.get(pk=body["id"]), ws


def released(player):
    return balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


def ledger_for_round(session):
    """(ledger transactions naming the session's round, settle transactions): exactly once
    means (2, 1): the stake and one resolution."""
    (rnd,) = session.rounds.all()
    ref = f"round:{rnd.pk}"
    return (Transaction.objects.filter(reference=ref).count(),
            Transaction.objects.filter(dedupe_key=f"{ref}:settle").count())


def test_silent_client_is_released_by_the_timer_and_by_the_sweeper_after_sigkill(tmp_path):
    alice, bob = make_player(funds={"USD": 10_000}), make_player(funds={"USD": 10_000})
    with processes() as procs:
        redis_proc, redis_url = start_redis(tmp_path / "redis.log")
        procs.append(redis_proc)
        env = server_env(redis_url=redis_url)
        port = free_port()
        base, origin = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
        procs.append(start_celery(env, tmp_path / "celery.log"))
        asgi = start_asgi(env, port, tmp_path / "asgi.log")
        procs.append(asgi)

        # Canary: a session left stale in the database proves worker + beat are sweeping.
        canary = make_player()
        now = timezone.now()
        stale = GameSession.objects.create(player=canary, game="hilo", currency="USD",
                                           started_at=now, last_heartbeat_at=now)
        GameSession.objects.filter(pk=stale.pk).update(
            last_heartbeat_at=now - timezone.timedelta(seconds=60))
        assert wait_until(lambda: GameSession.objects.get(pk=stale.pk).status == "expired",
                          timeout=45, interval=0.2), (tmp_path / "celery.log").read_text()[-3000:]

        # 1. ASGI alive: the client goes silent without closing its socket.
        session, ws = open_round(base, origin, alice)
        assert balances(alice)["reserved"] == 700
        silent_at = time.monotonic()
        assert wait_until(lambda: released(alice), timeout=TIMEOUT_S + SWEEP_S + MARGIN_S)
        delay = time.monotonic() - silent_at
        session = GameSession.objects.get(pk=session.pk)
        assert session.status == "expired" and session.close_reason == "timeout"
        assert ledger_for_round(session) == (2, 1)
        # the socket was told and closed with 4002 (the client never read it until now)
        assert json.loads(ws.recv(timeout=5))["status"] == "expired"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4002
        print(f"\nASGI timer path: released {delay:.2f}s after the last heartbeat")

        # 2. The ASGI process dies with the connection: only the sweeper is left.
        session, ws = open_round(base, origin, bob)
        asgi.send_signal(signal.SIGKILL)
        asgi.wait(timeout=10)
        killed_at = time.monotonic()
        assert balances(bob)["reserved"] == 700
        assert wait_until(lambda: released(bob), timeout=TIMEOUT_S + SWEEP_S + MARGIN_S)
        delay = time.monotonic() - killed_at
        # exactly once, even with more sweeps running over it
        time.sleep(2 * SWEEP_S)
        session = GameSession.objects.get(pk=session.pk)
        assert session.status == "expired"
        assert session.history.first().history_change_reason == "expired: sweeper"
        assert ledger_for_round(session) == (2, 1) and released(bob)
        print(f"sweeper path (ASGI SIGKILLed): released {delay:.2f}s after the kill")
        ws.close()
