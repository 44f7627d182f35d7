"""Liveness and readiness probes."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            return "migrations not applied"
    except Exception as exc:  # noqa: BLE001 - report, never raise from a probe
        return f"unreachable ({type(exc).__name__})"
    return None


def _check_redis() -> str | None:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return f"unreachable ({type(exc).__name__})"
    return None


def _check_celery() -> str | None:
    from config.celery import app

    try:
        replies = app.control.ping(timeout=1.0)
    except Exception as exc:  # noqa: BLE001
        return f"unreachable ({type(exc).__name__})"
    if not replies:
        return "no worker answered a ping"
    return None


# Extra checks that only degrade readiness (lag monitors). Dotted paths to callables
# returning a list of {"name", "detail"} dicts; reconciliation registers its own.
def _degradations() -> list[dict]:
    from django.utils.module_loading import import_string

    found: list[dict] = []
    for path in getattr(settings, "READINESS_DEGRADATION_CHECKS", []):
        try:
            found.extend(import_string(path)())
        except Exception as exc:  # noqa: BLE001
            found.append({"name": path, "detail": f"check failed ({type(exc).__name__})"})
    return found


def readyz(request):
    checks = {"database": _check_database(), "redis": _check_redis()}
    checks["celery"] = _check_celery() if checks["redis"] is None else "broker unreachable"
    down = {name: problem for name, problem in checks.items() if problem}
    body: dict = {
        "status": "ok" if not down else "unavailable",
        "checks": {name: (problem or "ok") for name, problem in checks.items()},
    }
    if down:
        body["down"] = sorted(down)
    else:
        degraded = _degradations()
        if degraded:
            body["status"] = "degraded"
            body["degraded"] = degraded
    return JsonResponse(body, status=503 if down else 200)
