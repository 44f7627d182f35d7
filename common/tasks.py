"""Scheduling Celery work from services without letting a broker outage fail a commit.

Every task that moves or settles money is queued through `enqueue_on_commit`, and every such
task has a periodic re-drive (a beat job that finds the work its lost task should have done:
resulted markets with open bets, approved withdrawals not sent, ...). So a broker outage, or
a worker killed with its messages, delays the work; it never loses it. docs/faults.md.
"""

from __future__ import annotations

import logging
from importlib import import_module

from celery import current_app, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .idempotency import idempotency_records_expire

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Queue `task` (a task, or its registered name) after the current transaction commits.

    A broker outage must not turn a committed money operation into an error: the failure is
    logged and the periodic re-drive for that work picks it up later. A name lets services
    queue their app's tasks without importing `tasks` (tasks import services, not the reverse).
    """

    def _send() -> None:
        try:
            _resolve(task).apply_async(args=args, kwargs=kwargs)
        except Exception:  # noqa: BLE001 - broker down; the re-drive is the fallback
            logger.warning("could not enqueue task after commit",
                           extra={"task": task if isinstance(task, str) else task.name},
                           exc_info=True)

    transaction.on_commit(_send)


@shared_task(acks_late=True, soft_time_limit=280, time_limit=300)
def idempotency_expire_task() -> int:
    return idempotency_records_expire(now=timezone.now(), ttl_hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def _resolve(task):
    if not isinstance(task, str):
        return task
    if task not in current_app.tasks:
        # Outside a worker an app's tasks module is imported on first need; task names
        # start with their app's label (wallet.tasks.x, betting.market_settlement_run).
        import_module(f"{task.split('.', 1)[0]}.tasks")
    return current_app.tasks[task]
