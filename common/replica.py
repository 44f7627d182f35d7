"""Replica lag awareness and read-your-writes stickiness for the router.

A player who just wrote is pinned to the primary for REPLICA_STICKY_S (a short-lived cache
key set after commit by the ledger); the router reads the current player from a context
variable set at authentication.
"""

from __future__ import annotations

import contextvars
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connections

current_player_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "current_player_id", default=None
)
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
    except Exception:  # noqa: BLE001 - an unreachable replica is simply not used
        return None


def replica_usable() -> bool:
    """False when the current player wrote recently or the replica lags past the limit."""
    if _pinned(current_player_id.get()):
        return False
    now = time.monotonic()
    if now - _lag_cache["checked_at"] > 1.0:
        lag = replica_lag_seconds()
        _lag_cache["lag_s"] = float("inf") if lag is None else lag
        _lag_cache["checked_at"] = now
    return _lag_cache["lag_s"] <= settings.REPLICA_MAX_LAG_S


def pin_to_primary(player_ids) -> None:
    """Route these players' reads to the primary for REPLICA_STICKY_S."""
    if "replica" not in settings.DATABASES:
        return

    try:
        cache.set_many({f"replica-pin:{pid}": 1 for pid in player_ids}, settings.REPLICA_STICKY_S)
    except Exception:  # noqa: BLE001 - without the pin, reads fall back on lag checks only
        pass


def _pinned(player_id: int | None) -> bool:
    if player_id is None or "replica" not in settings.DATABASES:
        return False

    try:
        return bool(cache.get(f"replica-pin:{player_id}"))
    except Exception:  # noqa: BLE001 - cache down: stay on the primary to be safe
        return True
