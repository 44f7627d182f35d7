"""Celery tasks of game sessions: thin, they call services."""

from celery import shared_task
from django.utils import timezone

from .services import game_sessions_sweep


@shared_task(name="sessions.sweep_stale_game_sessions", acks_late=True,
             reject_on_worker_lost=True, time_limit=60, soft_time_limit=50)
def sweep_stale_game_sessions() -> int:
    """Expire live sessions silent past the timeout (their ASGI process may be gone).

    Idempotent: each expiry re-checks the session under its row lock.
    """
    return game_sessions_sweep(now=timezone.now())
