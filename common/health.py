"""Liveness and readiness probes."""

from __future__ import annotations

import psycopg
import redis
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.utils.module_loading import import_string


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        # A connection of its own with a short connect timeout, not one borrowed from the
        # pool: with the server gone, the pool would make the probe wait its whole borrow
        # timeout, and a probe must answer fast.
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params["connect_timeout"] = 2
        with psycopg.connect(**params) as probe:
            probe.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            return "migrations not applied"
    except Exception as exc:  # noqa: BLE001 - report, never raise from a probe
        return f"unreachable ({type(exc).__name__})"
    return None


def _check_redis() -> str | None:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return f"unreachable ({type(exc).__name__})"
    return None


# Extra checks that only degrade readiness (lag monitors). Dotted paths to callables
# returning a list of {"name", "detail"} dicts; reconciliation registers its own.
def _degradations() -> list[dict]:
    found: list[dict] = []
    for path in getattr(settings, "READINESS_DEGRADATION_CHECKS", []):
        try:
            found.extend(import_string(path)())
        except Exception as exc:  # noqa: BLE001
            found.append({"name": path, "detail": f"check failed ({type(exc).__name__})"})
    return found


def _named_checks() -> dict[str, str | None]:
    """READINESS_CHECKS: {name: dotted path of a callable returning a problem or None}."""
    out: dict[str, str | None] = {}
    for name, path in getattr(settings, "READINESS_CHECKS", {}).items():
        try:
            out[name] = import_string(path)()
        except Exception as exc:  # noqa: BLE001
            out[name] = f"check failed ({type(exc).__name__})"
    return out


def readyz(request):
    """503 only when this process cannot serve money (its database is unreachable or not
    migrated); Redis, Celery and lag problems answer 200 "degraded", naming each problem:
    players can still deposit, bet and withdraw, so a worker hang must not take the web tier
    out of the load balancer."""
    database = _check_database()
    checks = {"database": database, "redis": _check_redis()}
    if database is None:
        checks.update(_named_checks())
    body: dict = {
        "status": "ok",
        "checks": {name: (problem or "ok") for name, problem in checks.items()},
    }
    if database is not None:
        body["status"] = "unavailable"
        body["down"] = ["database"]
        return JsonResponse(body, status=503)
    degraded = [{"name": name, "detail": problem} for name, problem in checks.items() if problem]
    degraded += _degradations()
    if degraded:
        body["status"] = "degraded"
        body["degraded"] = degraded
    return JsonResponse(body, status=200)
