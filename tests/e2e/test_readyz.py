"""/readyz and Celery liveness against the real services: a real ASGI server, a real worker
frozen with SIGSTOP, a real beat, a private Redis.

Readiness is 503 only when the web tier cannot serve money (database unreachable); a frozen
or stopped worker and an unreachable Redis answer 200 "degraded" while deposits are still
accepted, and beat (not the frozen worker) raises the alert that clears after SIGCONT.
"""

import os
import signal
import uuid

import httpx
import pytest

from reconciliation.models import Alert
from tests.e2e.procs import (
    BIN,
    PrivateRedis,
    free_port,
    service_env,
    spawn,
    start_asgi,
    start_worker,
    stop,
    wait_for,
)
from tests.factories import make_player
from wallet.models import Deposit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAST_LIVENESS = {"CELERY_HEARTBEAT_INTERVAL_S": "1", "CELERY_WORKER_STALL_S": "4",
                 "CELERY_LIVENESS_CHECK_INTERVAL_S": "1", "CELERY_PROBE_INTERVAL_S": "2"}


def _ready(base):
    resp = httpx.get(f"{base}/readyz", timeout=10)
    return resp.status_code, resp.json()


def _open_alerts() -> set[str]:
    return set(Alert.objects.filter(cleared_at__isnull=True).values_list("name", flat=True))


def _deposit(base, token) -> int:
    return httpx.post(f"{base}/api/v1/payments/deposits/", timeout=10,
                      json={"amount": "5.00", "currency": "USD", "provider": "sandbox"},
                      headers={"Authorization": f"Bearer {token}",
                               "Idempotency-Key": str(uuid.uuid4())}).status_code


def test_frozen_worker_degrades_readiness_and_beat_alerts_until_it_resumes():
    player = make_player()
    redis = PrivateRedis()
    redis.start()
    env = service_env(REDIS_URL=redis.url, **FAST_LIVENESS)
    worker = start_worker(env, name="frozen")
    beat = spawn([str(BIN / "celery"), "-A", "config", "beat", "-l", "warning", "--pidfile="], env)
    asgi, base = start_asgi(env)
    try:
        status, body = wait_for(lambda: (r := _ready(base))[1]["status"] == "ok" and r, 60, 0.5)
        assert status == 200
        assert body["checks"] == {"database": "ok", "redis": "ok", "celery": "ok"}
        token = httpx.post(f"{base}/api/v1/auth/token/", timeout=10, json={
            "username": player.username, "password": "correct-horse-battery"}).json()["token"]

        os.killpg(worker.pid, signal.SIGSTOP)  # the worker and its pool children
        status, body = wait_for(lambda: (r := _ready(base))[1]["status"] == "degraded"
                                and "celery" in {d["name"] for d in r[1]["degraded"]} and r, 30, 0.5)
        assert status == 200 and "down" not in body
        assert "has sent no heartbeat" in body["checks"]["celery"]
        # Beat raises the alert: nobody looks at the dashboard, the worker is frozen.
        stalled = wait_for(lambda: {a for a in _open_alerts()
                                    if a.startswith("celery_worker_stalled:frozen.")}, 30, 0.5)
        assert len(stalled) == 1
        # Money is still served.
        assert _deposit(base, token) == 201
        assert Deposit.objects.filter(player=player).count() == 1

        os.killpg(worker.pid, signal.SIGCONT)
        wait_for(lambda: not {a for a in _open_alerts() if a.startswith("celery_")}, 30, 0.5)
        status, body = wait_for(lambda: (r := _ready(base))[1]["checks"]["celery"] == "ok" and r,
                                30, 0.5)
        assert status == 200
        assert Alert.objects.get(name=stalled.pop()).cleared_at is not None

        stop(worker)  # a clean shutdown forgets the worker: then nobody runs tasks
        status, body = wait_for(lambda: (r := _ready(base))[1]["checks"]["celery"] != "ok" and r,
                                30, 0.5)
        assert status == 200 and "no Celery worker" in body["checks"]["celery"]

        redis.stop()
        status, body = wait_for(lambda: (r := _ready(base))[1]["checks"]["redis"] != "ok" and r,
                                30, 0.5)
        assert status == 200 and body["status"] == "degraded"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("unreachable")
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGCONT)
        stop(worker)
        stop(beat)
        stop(asgi)
        redis.stop()


def test_unreachable_database_is_503():
    # No server listens on this port: the web tier cannot read or write money.
    env = service_env(DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/nowhere")
    asgi, base = start_asgi(env)
    try:
        status, body = _ready(base)
        assert status == 503
        assert body["status"] == "unavailable" and body["down"] == ["database"]
        assert body["checks"]["database"].startswith("unreachable")
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        stop(asgi)
