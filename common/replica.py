"""Replica lag from real WAL positions, and read-your-writes pins by LSN.

The rule saying which reads may use the replica lives in `config.db_router`; this module
answers "is the replica usable right now, for this player?" and carries the purpose of
the reads in progress (`lagging_reads`), which the router reads.

Lag: the primary's current WAL position is read first, then the replica's replay position
and the commit time of the last transaction it replayed. A replica that has replayed up
to the primary's position has no lag; otherwise its lag is the age of the last
transaction it replayed (an over-estimate right after an idle spell: conservative).

Read-your-writes: after a ledger write commits, the primary's WAL position (which is past
that commit record) is stored per player in Redis, keeping the highest value. That
player's lag-tolerant reads go to the primary until the replica's replay position passes
it; the key's TTL only collects garbage (a replica that far behind is unused anyway).
"""

from __future__ import annotations

import contextvars
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

current_player_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "current_player_id", default=None
)

# Why the ORM reads in progress may lag ("history", "dashboard"...: config.db_router).
read_purpose: contextvars.ContextVar[str | None] = contextvars.ContextVar("read_purpose",
                                                                         default=None)


@contextmanager
def lagging_reads(purpose: str):
    """Mark the ORM reads inside this block as allowed to lag, for `purpose`."""
    token = read_purpose.set(purpose)
    try:
        yield
    finally:
        read_purpose.reset(token)


# Last measurement, shared by the requests of one process for REPLICA_CHECK_INTERVAL_S.
_lag_cache: dict = {"checked_at": 0.0, "lag_s": float("inf"), "replay_lsn": None}

# Keep the larger of the stored and the new LSN (two writes may finish in either order).
_PIN_MAX = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
end
return 1
"""
# Stands for "a write whose position we could not read": the player stays on the primary.
UNKNOWN_LSN = 2**62

_redis: redis.Redis | None = None


def _pins() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1,
                                      socket_connect_timeout=1)
    return _redis


def lsn_to_int(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass(frozen=True)
class ReplicaStatus:
    in_recovery: bool
    replay_lsn: int | None
    receive_lsn: int | None
    primary_lsn: int
    lag_bytes: int
    lag_s: float
    paused: bool


def replica_status() -> ReplicaStatus | None:
    """Measure the replica against the primary; None without a replica or when either
    is unreachable."""
    if "replica" not in settings.DATABASES:
        return None
    try:
        # The primary first: a replica that has caught up then shows no lag at all.
        with connections["default"].cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn()::text")
            primary_lsn = lsn_to_int(cur.fetchone()[0])
        with connections["replica"].cursor() as cur:
            cur.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                "pg_last_wal_receive_lsn()::text, "
                "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), "
                "CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END"
            )
            in_recovery, replay, receive, age_s, paused = cur.fetchone()
    except Exception:  # noqa: BLE001 - an unreachable replica is simply not used
        _close_broken("replica")
        return None
    if not in_recovery:
        # No standby reachable (libpq's prefer-standby settled on the leader): no lag.
        return ReplicaStatus(False, None, None, primary_lsn, 0, 0.0, False)
    replay_lsn = lsn_to_int(replay) if replay else 0
    lag_bytes = max(0, primary_lsn - replay_lsn)
    if lag_bytes == 0:
        lag_s = 0.0
    else:
        lag_s = float("inf") if age_s is None else max(0.0, float(age_s))
    return ReplicaStatus(True, replay_lsn, lsn_to_int(receive) if receive else None,
                         primary_lsn, lag_bytes, lag_s, bool(paused))


def _close_broken(alias: str) -> None:
    try:
        connections[alias].close()
    except Exception:  # noqa: BLE001
        pass


def replica_lag_seconds() -> float | None:
    """Seconds the replica is behind, or None when there is no replica or it is unreachable."""
    status = replica_status()
    return None if status is None else status.lag_s


def _measure() -> None:
    status = replica_status()
    _lag_cache["lag_s"] = float("inf") if status is None else status.lag_s
    _lag_cache["replay_lsn"] = None if status is None or not status.in_recovery \
        else status.replay_lsn
    _lag_cache["checked_at"] = time.monotonic()


def replica_usable() -> bool:
    """False when the replica lags past REPLICA_MAX_LAG_S (or is down), or the current
    player has a write the replica has not replayed yet."""
    if time.monotonic() - _lag_cache["checked_at"] > settings.REPLICA_CHECK_INTERVAL_S:
        _measure()
    if _lag_cache["lag_s"] > settings.REPLICA_MAX_LAG_S:
        return False
    pin = pinned_lsn(current_player_id.get())
    if pin is None:
        return True
    replay = _lag_cache["replay_lsn"]
    if replay is None:
        return True  # the "replica" is the leader itself: it has every write
    if replay >= pin:
        return True
    # The cached position may be a little old: look again before giving up on the replica.
    _measure()
    replay = _lag_cache["replay_lsn"]
    return _lag_cache["lag_s"] <= settings.REPLICA_MAX_LAG_S and (replay is None or replay >= pin)


def pin_to_primary(player_ids) -> None:
    """Keep these players' lag-tolerant reads on the primary until the replica has replayed
    the write that just committed (call after commit)."""
    if "replica" not in settings.DATABASES:
        return
    player_ids = list(player_ids)
    if not player_ids:
        return
    try:
        with connections["default"].cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn()::text")
            lsn = lsn_to_int(cur.fetchone()[0])
    except Exception:  # noqa: BLE001 - position unknown: pin past any position
        logger.warning("replica pin: primary WAL position unreadable, pinning until TTL")
        lsn = UNKNOWN_LSN
    try:
        client = _pins()
        script = client.register_script(_PIN_MAX)
        for pid in player_ids:
            script(keys=[_pin_key(pid)], args=[lsn, settings.REPLICA_PIN_TTL_S])
    except Exception:  # noqa: BLE001 - without the pin, reads fall back on lag checks only
        logger.warning("replica pin: Redis unreachable, players %s not pinned", player_ids)


def pinned_lsn(player_id: int | None) -> int | None:
    """The WAL position the replica must reach before this player reads from it."""
    if player_id is None or "replica" not in settings.DATABASES:
        return None
    try:
        raw = _pins().get(_pin_key(player_id))
    except Exception:  # noqa: BLE001 - Redis down: stay on the primary to be safe
        return UNKNOWN_LSN
    return None if raw is None else int(raw)  # type: ignore[arg-type]  # sync client: bytes


def _pin_key(player_id: int) -> str:
    return f"replica-pin:{settings.REPLICA_PIN_NAMESPACE}:{player_id}"
