"""Celery tasks of the bonus app: thin, each calls one service, safe to run twice."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="bonuses.tasks.bonuses_expire_task", acks_late=True, time_limit=300)
def bonuses_expire_task() -> int:
    return services.bonuses_expire(now=timezone.now())
