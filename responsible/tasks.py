"""Celery tasks of responsible gambling: thin, each calls one service, safe to run twice."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="responsible.tasks.exclusions_task", acks_late=True, time_limit=300)
def exclusions_task() -> dict:
    now = timezone.now()
    return {"ended": services.exclusions_finish(now=now),
            "sessions_closed": services.excluded_sessions_close(now=now)}
