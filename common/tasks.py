"""Scheduling Celery work from services without letting a broker outage fail a commit."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Queue `task` after the current transaction commits.

    A broker outage must not turn a committed money operation into an error: the failure is
    logged and the periodic sweeper for that work picks it up later.
    """

    def _send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:  # noqa: BLE001 - broker down; the sweeper is the fallback
            logger.warning("could not enqueue task after commit", extra={"task": task.name},
                           exc_info=True)

    transaction.on_commit(_send)
