"""Writing events: every app records what happened through `emit`, in its own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from common.db import json_rows, json_rows_sql

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


@dataclass(frozen=True)
class EventSpec:
    """One event of an `emit_many`: the arguments of `emit`."""

    topic: str
    aggregate_type: str
    aggregate_id: object
    payload: dict


_EMIT_MANY_SQL = (
    "INSERT INTO events_outboxevent (event_id, topic, aggregate_type, aggregate_id, payload, "
    "attempts) SELECT v.event_id, v.topic, v.aggregate_type, v.aggregate_id, v.payload, 0 FROM "
    + json_rows_sql(("event_id", "uuid"), ("topic", "varchar"), ("aggregate_type", "varchar"),
                    ("aggregate_id", "varchar"), ("payload", "jsonb"))
    + " AS v ORDER BY v.n"
)


def emit_many(events: Sequence[EventSpec]) -> None:
    """Record many events in the caller's transaction with one statement (in order, as many
    `emit` calls would: same rows, same transaction id for the relay).

    Raises RuntimeError outside a transaction.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("emit_many must run inside the calling service's transaction")
    if not events:
        return
    with connection.cursor() as cur:
        cur.execute(_EMIT_MANY_SQL, [json_rows([
            [str(uuid.uuid4()), e.topic, e.aggregate_type, str(e.aggregate_id), e.payload]
            for e in events])])
