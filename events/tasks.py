"""Celery tasks of the outbox: the relay and the consumers. Thin interfaces over events.relay.

Every task here is safe to run twice. The consume tasks run with acks_late and
reject_on_worker_lost (a worker killed mid-task gets the message redelivered) and count
their deliveries in the database: past CELERY_TASK_MAX_REDELIVERIES a task is parked and
alerted instead of looping forever.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import relay as outbox
from .errors import UnknownConsumer

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None,
             time_limit=60, soft_time_limit=50)
def event_consume_task(self, consumer: str, event_id: str) -> str:
    task_id = self.request.id
    deliveries = outbox.task_delivery_count(task_id=task_id) if task_id else 1
    cap = settings.CELERY_TASK_MAX_REDELIVERIES
    if deliveries > cap:
        outbox.task_park(task_id=task_id, task_name=self.name, args=[consumer, event_id],
                         kwargs={}, deliveries=deliveries,
                         error=getattr(self.request, "last_error", "") or "redelivery cap reached",
                         now=timezone.now())
        return "parked"
    try:
        applied = outbox.event_consume(consumer=consumer, event_id=event_id)
    except UnknownConsumer:
        outbox.task_park(task_id=task_id or "", task_name=self.name, args=[consumer, event_id],
                         kwargs={}, deliveries=deliveries, error="unknown consumer",
                         now=timezone.now())
        return "parked"
    except Exception as exc:
        logger.warning("consumer failed, will retry", exc_info=True,
                       extra={"consumer": consumer, "event_id": event_id, "deliveries": deliveries})
        raise self.retry(exc=exc, countdown=min(2 ** deliveries, 60))
    if task_id:
        outbox.task_delivery_forget(task_id=task_id)
    return "applied" if applied else "duplicate"


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None,
             time_limit=120, soft_time_limit=110)
def event_consume_batch_task(self, consumer: str, event_ids: list[str]) -> dict:
    """Apply several events in order, each in its own transaction. An event that fails is
    handed to its own event_consume_task (with retries and the redelivery cap), so one bad
    event never holds back the others."""
    task_id = self.request.id
    deliveries = outbox.task_delivery_count(task_id=task_id) if task_id else 1
    if deliveries > settings.CELERY_TASK_MAX_REDELIVERIES:
        outbox.task_park(task_id=task_id, task_name=self.name, args=[consumer, event_ids],
                         kwargs={}, deliveries=deliveries, error="redelivery cap reached",
                         now=timezone.now())
        return {"parked": len(event_ids)}
    counts = {"applied": 0, "duplicate": 0, "handed_off": 0}
    for event_id in event_ids:
        try:
            applied = outbox.event_consume(consumer=consumer, event_id=event_id)
        except Exception:  # noqa: BLE001 - isolated below, with its own retries
            logger.warning("consumer failed inside a batch", exc_info=True,
                           extra={"consumer": consumer, "event_id": event_id})
            event_consume_task.apply_async(args=[consumer, event_id], retry=False)
            counts["handed_off"] += 1
            continue
        counts["applied" if applied else "duplicate"] += 1
    if task_id:
        outbox.task_delivery_forget(task_id=task_id)
    return counts


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=60, soft_time_limit=50)
def outbox_relay_task() -> int:
    result = outbox.outbox_relay()
    return result.relayed
