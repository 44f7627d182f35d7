"""Celery tasks of reconciliation: the lag monitor and the reconcile job (thin interfaces).

Both are safe to run twice. The outbox relay and consumer tasks live in `events.tasks`.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from events.relay import outbox_redeliver_unconsumed

from .monitoring import lag_monitor
from .services import housekeeping, reconcile_run


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=60, soft_time_limit=50)
def lag_monitor_task() -> int:
    now = timezone.now()
    outbox_redeliver_unconsumed(now=now)
    breaches = lag_monitor(now=now)
    housekeeping(now=now)
    return len(breaches)


@shared_task(acks_late=True, reject_on_worker_lost=True,
             time_limit=settings.RECONCILE_TIME_LIMIT_S,
             soft_time_limit=settings.RECONCILE_TIME_LIMIT_S - 100)
def reconcile_task() -> int:
    return reconcile_run(now=timezone.now()).new
