"""The outbox relay, the idempotent consumer, replays and the redelivery cap.

Delivery is at-least-once end to end and exactly-once in effect:
- the relay publishes an event to every consumer of its topic, then marks it sent, in one
  database transaction; a crash between publishing and committing re-publishes it later;
- a consumer records ProcessedEvent(consumer, event_id) in the same transaction as its
  read-model change, so a second delivery finds the row and changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils.module_loading import import_string

from .errors import EventNotFound, UnknownConsumer
from .metrics import EVENTS_APPLIED, EVENTS_DUPLICATE, EVENTS_RELAYED, TASKS_PARKED
from .models import OutboxEvent, ParkedTask, ProcessedEvent, TaskDelivery
from .registry import CONSUMERS, consumers_for

logger = logging.getLogger(__name__)

# One relay drains at a time (transaction-scoped advisory lock), so batches go out in order.
RELAY_LOCK_KEY = 7_424_001

# Events whose writing transaction committed, in txid order, never overtaking a transaction
# of THIS database that is still running: its events will have a lower txid than ours and
# must go first. The cluster-wide snapshot xmin (txid_snapshot_xmin) would also be correct,
# but any long transaction in another database of the cluster would then stall the relay;
# so in-progress xids that pg_stat_activity shows belonging to other databases are left out
# of the horizon. Any xid we cannot attribute (a role that cannot see other sessions, a
# prepared transaction) still holds the horizon back: conservative, never skipping.
_RELAY_SELECT = """
WITH snap AS (SELECT txid_current_snapshot() AS s),
other_db AS (
    SELECT backend_xid::text::bigint AS xid32 FROM pg_stat_activity
     WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database()
),
horizon AS (
    SELECT COALESCE(
        (SELECT min(x) FROM snap, txid_snapshot_xip(snap.s) AS x
          WHERE (x %% 4294967296) NOT IN (SELECT xid32 FROM other_db)),
        (SELECT txid_snapshot_xmax(s) FROM snap)
    ) AS h
)
SELECT id, event_id::text, topic
  FROM {outbox}
 WHERE sent_at IS NULL AND txid < (SELECT h FROM horizon)
 ORDER BY txid, id
 LIMIT %s
   FOR UPDATE SKIP LOCKED
""".replace("{outbox}", OutboxEvent._meta.db_table)

# Task names, so the relay publishes without importing its own tasks module (tasks import
# the relay, never the reverse).
CONSUME_TASK = "events.tasks.event_consume_task"
CONSUME_BATCH_TASK = "events.tasks.event_consume_batch_task"
_OUTBOX = OutboxEvent._meta.db_table
_PROCESSED = ProcessedEvent._meta.db_table
_DELIVERY = TaskDelivery._meta.db_table
_PARKED = ParkedTask._meta.db_table

Publisher = Callable[..., None]  # publish(consumer=..., event_id=...)


def celery_publish(*, consumer: str, event_id: str, producer=None) -> None:
    """Send one consume task to the broker (raises when the broker is unreachable)."""
    current_app.send_task(CONSUME_TASK, args=[consumer, event_id], retry=False,
                          producer=producer)


def celery_publish_many(*, consumer: str, event_ids: list[str], producer=None,
                        queue: str | None = None) -> None:
    """Send one task that applies several events in order (each in its own transaction)."""
    options = {"queue": queue} if queue else {}
    current_app.send_task(CONSUME_BATCH_TASK, args=[consumer, event_ids], retry=False,
                          producer=producer, **options)


class CeleryBatch:
    """Collects a relay batch's deliveries per consumer and sends them as a few messages:
    a Celery message costs about a millisecond to publish, so one per event caps the relay
    near a thousand deliveries a second."""

    def __init__(self, producer=None, queue: str | None = None):
        self.producer = producer
        self.queue = queue
        self.pending: dict[str, list[str]] = {}

    def __call__(self, *, consumer: str, event_id: str) -> None:
        self.pending.setdefault(consumer, []).append(event_id)

    def flush(self) -> None:
        size = settings.OUTBOX_CONSUME_BATCH
        for consumer, ids in self.pending.items():
            for i in range(0, len(ids), size):
                celery_publish_many(consumer=consumer, event_ids=ids[i:i + size],
                                    producer=self.producer, queue=self.queue)
        self.pending = {}


@contextmanager
def _batch_publisher(publish: Publisher | None):
    """The given publisher, or Celery's: deliveries grouped per consumer, one pooled
    producer for the whole batch, everything sent before the batch is marked sent."""
    if publish is not None:
        yield publish
        if hasattr(publish, "flush"):
            publish.flush()
        return
    with current_app.producer_or_acquire() as producer:
        batch = CeleryBatch(producer)
        yield batch
        batch.flush()


@dataclass
class RelayResult:
    relayed: int = 0
    published: int = 0
    batches: int = 0
    error: str = ""


def outbox_relay(*, batch_size: int | None = None, max_seconds: float | None = None,
                 publish: Publisher | None = None) -> RelayResult:
    """Publish committed, unsent outbox events in commit order and mark them sent.

    Never raises on a broker failure: the batch stays unsent (its `attempts` are counted)
    and the next run retries it. Returns what was relayed.
    """
    batch_size = batch_size or settings.OUTBOX_RELAY_BATCH_SIZE
    deadline = time.monotonic() + (max_seconds if max_seconds is not None
                                   else settings.OUTBOX_RELAY_MAX_SECONDS)
    result = RelayResult()
    while True:
        ids: list[int] = []
        try:
            with (transaction.atomic(durable=True), connection.cursor() as cur,
                  _batch_publisher(publish) as send):
                cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELAY_LOCK_KEY])
                if not cur.fetchone()[0]:
                    return result  # another relay is draining
                cur.execute(_RELAY_SELECT, [batch_size])
                rows = cur.fetchall()
                ids = [r[0] for r in rows]
                # Publishing inside the transaction is deliberate: if a publish fails the
                # batch rolls back to unsent; if the commit fails after publishing, the
                # events go out again and consumers drop the repeats. Publishing on_commit
                # instead could mark events sent that never reached the broker.
                for _id, event_id, topic in rows:
                    for consumer in consumers_for(topic):
                        send(consumer=consumer, event_id=event_id)
                        result.published += 1
                if ids:
                    cur.execute(
                        f"UPDATE {_OUTBOX} SET sent_at = clock_timestamp(), "
                        "attempts = attempts + 1 WHERE id = ANY(%s)", [ids])
        except Exception as exc:  # noqa: BLE001 - the broker or database is down: retry later
            result.error = f"{type(exc).__name__}: {exc}"
            logger.warning("outbox relay failed", extra={"error": result.error,
                                                         "batch": len(ids)})
            _count_failed_attempt(ids)
            return result
        if not ids:
            return result
        result.relayed += len(ids)
        result.batches += 1
        _metrics_relayed(len(ids))
        if len(ids) < batch_size or time.monotonic() > deadline:
            return result


def _count_failed_attempt(ids: list[int]) -> None:
    if not ids:
        return
    try:
        with transaction.atomic(durable=True), connection.cursor() as cur:
            cur.execute(f"UPDATE {_OUTBOX} SET attempts = attempts + 1 "
                        "WHERE id = ANY(%s) AND sent_at IS NULL", [ids])
    except Exception:  # noqa: BLE001 - bookkeeping only
        logger.exception("could not count failed relay attempt")


def _metrics_relayed(n: int) -> None:
    EVENTS_RELAYED.inc(n)


# --- consumers ------------------------------------------------------------------------------


def event_consume(*, consumer: str, event_id: str) -> bool:
    """Apply one outbox event to one read model, once. Returns False for a repeat.

    Raises UnknownConsumer, EventNotFound.
    """
    spec = CONSUMERS.get(consumer)
    if spec is None:
        raise UnknownConsumer(extra={"consumer": consumer})
    with transaction.atomic(durable=True):
        with connection.cursor() as cur:
            # The unique row is taken first: a parallel delivery of the same event waits
            # here for ours to commit, then finds the row and does nothing.
            cur.execute(
                f"INSERT INTO {_PROCESSED} (consumer, event_id, processed_at) "
                "VALUES (%s, %s, now()) ON CONFLICT (consumer, event_id) DO NOTHING RETURNING id",
                [consumer, event_id],
            )
            if cur.fetchone() is None:
                EVENTS_DUPLICATE.labels(consumer=consumer).inc()
                return False
        event = OutboxEvent.objects.filter(event_id=event_id).first()
        if event is None:
            raise EventNotFound(extra={"event_id": event_id})
        if event.topic in spec.topics:
            spec.apply(event)
    EVENTS_APPLIED.labels(consumer=consumer).inc()
    return True


# --- replays and redelivery -------------------------------------------------------------------


@dataclass
class ReplayResult:
    events: int = 0
    published: int = 0
    applied: int = 0
    duplicates: int = 0
    consumers: list[str] = field(default_factory=list)


def events_replay(*, since: datetime, until: datetime | None = None,
                  consumers: list[str] | None = None, inline: bool = False,
                  publish: Publisher | None = None, chunk: int = 1000,
                  progress: Callable[[int], None] | None = None) -> ReplayResult:
    """Deliver every sent event created in [since, until) to its consumers again.

    With inline=True the consumers run in this process (no broker needed). Read models do
    not change: every consumer has already recorded these events. Raises UnknownConsumer.
    """
    names = consumers or list(CONSUMERS)
    for name in names:
        if name not in CONSUMERS:
            raise UnknownConsumer(extra={"consumer": name})
    result = ReplayResult(consumers=names)
    qs = OutboxEvent.objects.filter(created_at__gte=since, sent_at__isnull=False)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    last_id = 0
    while True:
        batch = list(qs.filter(id__gt=last_id).order_by("id").values_list("id", "event_id", "topic")[:chunk])
        if not batch:
            return result
        with nullcontext() if inline else _batch_publisher(publish) as send:
            for pk, event_id, topic in batch:
                for name in consumers_for(topic):
                    if name not in names:
                        continue
                    if inline:
                        if event_consume(consumer=name, event_id=str(event_id)):
                            result.applied += 1
                        else:
                            result.duplicates += 1
                    else:
                        assert send is not None  # the publisher's context when not inline
                        send(consumer=name, event_id=str(event_id))
                        result.published += 1
                last_id = pk
        result.events += len(batch)
        if progress:
            progress(len(batch))


_UNCONSUMED = """
SELECT o.id, o.event_id::text
  FROM {outbox} o
 WHERE o.sent_at < %s AND o.created_at >= %s AND o.topic = ANY(%s)
   AND NOT EXISTS (SELECT 1 FROM {processed} p
                    WHERE p.consumer = %s AND p.event_id = o.event_id)
   AND NOT EXISTS (SELECT 1 FROM {parked} k
                    WHERE k.requeued_at IS NULL AND k.args = jsonb_build_array(%s, o.event_id::text))
 ORDER BY o.id
 LIMIT %s
""".replace("{outbox}", _OUTBOX).replace("{processed}", _PROCESSED).replace("{parked}", _PARKED)


def outbox_redeliver_unconsumed(*, now: datetime, limit: int = 1000,
                                publish: Publisher | None = None) -> int:
    """Publish again events sent long ago that a consumer still has not applied.

    Covers a message lost by the broker (a restart without persistence). Parked events are
    left alone. Returns how many deliveries were published.
    """
    cutoff = now - timedelta(seconds=settings.OUTBOX_REDELIVER_AFTER_S)
    horizon = now - timedelta(seconds=settings.LAG_CONSUMER_HORIZON_S)
    published = 0
    with (transaction.atomic(durable=True), connection.cursor() as cur,
          _batch_publisher(publish) as send):
        republished: set[int] = set()
        for name, spec in CONSUMERS.items():
            cur.execute(_UNCONSUMED, [cutoff, horizon, sorted(spec.topics), name, name, limit])
            for pk, event_id in cur.fetchall():
                send(consumer=name, event_id=event_id)
                republished.add(pk)
                published += 1
        # Stamped once all consumers are done, so each one still saw the event as overdue.
        if republished:
            cur.execute(f"UPDATE {_OUTBOX} SET sent_at = clock_timestamp(), "
                        "attempts = attempts + 1 WHERE id = ANY(%s)", [sorted(republished)])
    if published:
        logger.warning("outbox events redelivered", extra={"count": published})
    return published


# --- the redelivery cap -------------------------------------------------------------------------


def task_delivery_count(*, task_id: str) -> int:
    """Count one more delivery of a task message and return the total (autocommitted, so a
    worker killed mid-task still leaves its delivery counted)."""
    with transaction.atomic(durable=True), connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {_DELIVERY} AS t (task_id, deliveries, first_delivered_at) "
            "VALUES (%s, 1, now()) ON CONFLICT (task_id) DO UPDATE SET deliveries = t.deliveries + 1 "
            "RETURNING deliveries", [task_id])
        return cur.fetchone()[0]


def task_delivery_forget(*, task_id: str) -> None:
    with transaction.atomic(durable=True), connection.cursor() as cur:
        cur.execute(f"DELETE FROM {_DELIVERY} WHERE task_id = %s", [task_id])


def task_park(*, task_id: str, task_name: str, args: list, kwargs: dict, deliveries: int,
              error: str, now: datetime) -> ParkedTask:
    """Set a task aside after too many deliveries and raise an alert.

    The alert is raised through `EVENTS_TASK_PARKED_ALERT` (a dotted path in settings), so
    the app that owns alerts stays above this one.
    """
    with transaction.atomic(durable=True):
        parked, _ = ParkedTask.objects.get_or_create(
            task_id=task_id,
            defaults={"task_name": task_name, "args": list(args), "kwargs": dict(kwargs),
                      "deliveries": deliveries, "last_error": error[:2000]},
        )
    alert = getattr(settings, "EVENTS_TASK_PARKED_ALERT", "")
    if alert:
        import_string(alert)(task_id=task_id, task_name=task_name, args=list(args),
                             deliveries=deliveries, now=now)
    TASKS_PARKED.labels(task=task_name).inc()
    return parked


def parked_task_requeue(*, parked_id: int, now: datetime,
                        publish: Publisher | None = None) -> ParkedTask:
    """Publish a parked consume task again (with a fresh delivery count)."""
    publish = publish or celery_publish
    with transaction.atomic(durable=True):
        parked = ParkedTask.objects.select_for_update().get(pk=parked_id)
        if parked.requeued_at is None and parked.task_name.endswith("event_consume_task"):
            consumer, event_id = parked.args
            publish(consumer=consumer, event_id=event_id)
            parked.requeued_at = now
            parked.save(update_fields=["requeued_at"])
    return parked
