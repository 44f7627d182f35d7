"""Writing events: every app records what happened through `emit`, in its own transaction."""

from __future__ import annotations

from django.db import connection

from .models import OutboxEvent


def emit(*, topic: str, aggregate_type: str, aggregate_id: object, payload: dict) -> OutboxEvent:
    """Record an event in the caller's transaction; the relay publishes it after commit.

    Raises RuntimeError outside a transaction: an event must commit with its change.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("emit must run inside the calling service's transaction")
    return OutboxEvent.objects.create(
        topic=topic, aggregate_type=aggregate_type, aggregate_id=str(aggregate_id), payload=payload
    )
