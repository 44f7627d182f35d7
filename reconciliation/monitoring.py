"""Lag monitors: oldest unsent outbox event, broker queue depth, per-consumer lag, replica lag.

`lag_snapshot` only reads; `lag_monitor` (Celery beat) compares it with the thresholds in
settings, records and clears Alerts and logs; `readiness_degradations` is registered in
READINESS_DEGRADATION_CHECKS so /readyz reports "degraded" while a threshold is crossed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from common.replica import replica_lag_seconds
from events.models import OutboxEvent, ProcessedEvent
from events.registry import CONSUMERS

from .services import alert_clear, alert_raise

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerLag:
    consumer: str
    lag_seconds: float
    pending_events: int
    oldest_pending_at: datetime | None


@dataclass
class LagSnapshot:
    outbox_oldest_unsent_s: float
    outbox_unsent: int
    queue_depth: int | None
    consumers: dict[str, ConsumerLag] = field(default_factory=dict)
    replica_lag_s: float | None = None
    replica_configured: bool = False
    broker_policy: str | None = None


_CONSUMER_LAG = """
SELECT count(*), min(o.created_at)
  FROM {outbox} o
 WHERE o.topic = ANY(%s) AND o.created_at >= %s
   AND NOT EXISTS (SELECT 1 FROM {processed} p
                    WHERE p.consumer = %s AND p.event_id = o.event_id)
""".replace("{outbox}", OutboxEvent._meta.db_table).replace(
    "{processed}", ProcessedEvent._meta.db_table)


def consumer_lag(*, consumer: str, now: datetime) -> ConsumerLag:
    """How far a read model is behind: age of the oldest committed event it has not applied
    (sent or not), and how many such events there are."""
    spec = CONSUMERS[consumer]
    horizon = now - timedelta(seconds=settings.LAG_CONSUMER_HORIZON_S)
    with connection.cursor() as cur:
        cur.execute(_CONSUMER_LAG, [sorted(spec.topics), horizon, consumer])
        count, oldest = cur.fetchone()
    lag = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    return ConsumerLag(consumer, lag, int(count), oldest)


def _broker():
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1,
                                socket_connect_timeout=1)


def queue_depth() -> int | None:
    """Messages waiting in the default Celery queue (None when the broker is unreachable)."""
    try:
        # kombu's Redis transport keeps priorities in sibling lists "<queue>\x06\x16<n>".
        names = ["celery"] + [f"celery\x06\x16{p}" for p in (3, 6, 9)]
        pipe = _broker().pipeline()
        for name in names:
            pipe.llen(name)
        return int(sum(pipe.execute()))
    except Exception:  # noqa: BLE001
        return None


def broker_eviction_policy() -> str | None:
    """The broker's maxmemory-policy (None when unknown, e.g. CONFIG is disabled)."""
    try:
        return str(_broker().config_get("maxmemory-policy").get("maxmemory-policy"))
    except Exception:  # noqa: BLE001
        return None


def _replica_lag() -> float | None:
    """The replica's lag, confirmed by a second look when past the threshold: right after
    an idle spell the first look over-estimates (common.replica)."""
    lag = replica_lag_seconds()
    if lag is not None and lag > settings.LAG_REPLICA_S:
        time.sleep(0.5)
        again = replica_lag_seconds()
        lag = again if again is None else min(lag, again)
    return lag


def lag_snapshot(*, now: datetime, with_queue: bool = True) -> LagSnapshot:
    """Read every lag figure once (no writes)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*), min(created_at) FROM {OutboxEvent._meta.db_table} "
                    "WHERE sent_at IS NULL")
        unsent, oldest = cur.fetchone()
    snap = LagSnapshot(
        outbox_oldest_unsent_s=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        outbox_unsent=int(unsent),
        queue_depth=queue_depth() if with_queue else None,
        replica_lag_s=_replica_lag(),
        replica_configured="replica" in settings.DATABASES,
        broker_policy=broker_eviction_policy() if with_queue else None,
    )
    for name in CONSUMERS:
        snap.consumers[name] = consumer_lag(consumer=name, now=now)
    return snap


@dataclass(frozen=True)
class Breach:
    name: str
    detail: str
    value: float
    threshold: float


def lag_breaches(snap: LagSnapshot) -> list[Breach]:
    """The thresholds a snapshot crosses."""
    out: list[Breach] = []
    limit = settings.LAG_OUTBOX_OLDEST_UNSENT_S
    if snap.outbox_oldest_unsent_s > limit:
        out.append(Breach("outbox_lag", f"oldest unsent outbox event is "
                          f"{snap.outbox_oldest_unsent_s:.0f}s old ({snap.outbox_unsent} unsent, "
                          f"threshold {limit}s)", snap.outbox_oldest_unsent_s, limit))
    if snap.queue_depth is not None and snap.queue_depth > settings.LAG_QUEUE_DEPTH:
        out.append(Breach("queue_depth", f"{snap.queue_depth} messages waiting in the broker "
                          f"(threshold {settings.LAG_QUEUE_DEPTH})", snap.queue_depth,
                          settings.LAG_QUEUE_DEPTH))
    for name, c in snap.consumers.items():
        if c.lag_seconds > settings.LAG_CONSUMER_S:
            out.append(Breach(f"consumer_lag:{name}", f"read model {name} is "
                              f"{c.lag_seconds:.0f}s behind ({c.pending_events} events pending, "
                              f"threshold {settings.LAG_CONSUMER_S}s)", c.lag_seconds,
                              settings.LAG_CONSUMER_S))
    if snap.broker_policy not in (None, "noeviction"):
        # An evicting broker silently drops queued tasks under memory pressure.
        out.append(Breach("broker_eviction", f"broker maxmemory-policy is {snap.broker_policy}, "
                          "not noeviction", 1, 0))
    if snap.replica_lag_s is not None and snap.replica_lag_s > settings.LAG_REPLICA_S:
        out.append(Breach("replica_lag", f"replica is {snap.replica_lag_s:.1f}s behind "
                          f"(threshold {settings.LAG_REPLICA_S}s)", snap.replica_lag_s,
                          settings.LAG_REPLICA_S))
    if snap.replica_configured and snap.replica_lag_s is None:
        # Lag-tolerant reads are on the primary meanwhile; money is not affected.
        out.append(Breach("replica_down", "replica is configured but unreachable", 1, 0))
    return out


def monitor_names() -> tuple[str, ...]:
    """Every alert the lag monitor owns (consumers register when their app is ready)."""
    return ("outbox_lag", "queue_depth", "replica_lag", "replica_down", "broker_eviction",
            *(f"consumer_lag:{n}" for n in CONSUMERS))


def readiness_degradations() -> list[dict]:
    """/readyz hook: one {"name","detail"} per crossed lag threshold."""

    # The broker depth is left to the beat monitor: /readyz already pings Redis and must
    # answer fast.
    snap = lag_snapshot(now=timezone.now(), with_queue=False)
    return [{"name": b.name, "detail": b.detail} for b in lag_breaches(snap)]


def lag_monitor(*, now: datetime) -> list[Breach]:
    """Record an Alert (and log) for each crossed threshold; clear the ones that recovered."""

    snap = lag_snapshot(now=now)
    breaches = lag_breaches(snap)
    crossed = {b.name for b in breaches}
    for b in breaches:
        alert_raise(name=b.name, detail=b.detail, value=b.value, threshold=b.threshold, now=now)
    for name in monitor_names():
        if name not in crossed:
            alert_clear(name=name, now=now)
    return breaches
