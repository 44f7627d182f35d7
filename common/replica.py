"""Replica lag awareness and read-your-writes stickiness for the router."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connections

_lag_cache: dict[str, float] = {"checked_at": 0.0, "lag_s": 0.0}


def replica_lag_seconds() -> float | None:
    """Seconds the replica is behind, or None when there is no replica or it is unreachable."""
    if "replica" not in settings.DATABASES:
        return None
    try:
        with connections["replica"].cursor() as cur:
            cur.execute(
                "SELECT CASE WHEN pg_is_in_recovery() THEN "
                "COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) "
                "ELSE 0 END"
            )
            return float(cur.fetchone()[0])
    except Exception:
        return None


def replica_usable() -> bool:
    from .logging import request_id_var  # noqa: F401  (keeps import graph explicit)

    if _sticky_primary():
        return False
    now = time.monotonic()
    if now - _lag_cache["checked_at"] > 1.0:
        lag = replica_lag_seconds()
        _lag_cache["lag_s"] = float("inf") if lag is None else lag
        _lag_cache["checked_at"] = now
    return _lag_cache["lag_s"] <= settings.REPLICA_MAX_LAG_S


_sticky_until: dict[str, float] = {"until": 0.0}


def mark_recent_write() -> None:
    """Pin reads of this process to the primary for REPLICA_STICKY_S after a write."""
    _sticky_until["until"] = time.monotonic() + settings.REPLICA_STICKY_S


def _sticky_primary() -> bool:
    return time.monotonic() < _sticky_until["until"]
