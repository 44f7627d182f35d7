"""/readyz against the real services: a real ASGI server, a real worker, a private Redis."""

import httpx
import pytest

from tests.e2e.procs import PrivateRedis, service_env, start_asgi, start_worker, stop, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _ready(base):
    resp = httpx.get(f"{base}/readyz", timeout=10)
    return resp.status_code, resp.json()


def test_readyz_names_what_is_down():
    redis = PrivateRedis()
    redis.start()
    env = service_env(REDIS_URL=redis.url)
    worker = start_worker(env, name="readyz")
    asgi, base = start_asgi(env)
    try:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        status, body = wait_for(lambda: (r := _ready(base))[0] == 200 and r, 60, 0.5)
        assert body["checks"] == {"database": "ok", "redis": "ok", "celery": "ok"}

        stop(worker)
        status, body = wait_for(lambda: (r := _ready(base))[0] == 503 and r, 30, 0.5)
        assert body["down"] == ["celery"]
        assert body["checks"]["celery"] == "no worker answered a ping"

        redis.stop()
        status, body = wait_for(lambda: (r := _ready(base))[0] == 503 and "redis" in r[1]["down"] and r,
                                30, 0.5)
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("unreachable")
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        stop(worker)
        stop(asgi)
        redis.stop()
