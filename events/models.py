"""The transactional outbox and the consumer bookkeeping every app shares.

Invariants the database enforces:
- an outbox row is written in the same transaction as the change it describes (`emit`
  refuses to run outside a transaction);
- a consumer applies an event at most once (UNIQUE consumer, event_id), and the
  ProcessedEvent row commits in the same transaction as the consumer's change.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change it describes.

    `txid` is the writing PostgreSQL transaction id: the relay publishes only events whose
    transaction is older than every transaction still running, so an event with a lower id
    that commits later is never skipped.
    """

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    topic = models.CharField(max_length=64, db_index=True)
    aggregate_type = models.CharField(max_length=64)
    aggregate_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    txid = models.BigIntegerField(
        db_default=models.Func(function="txid_current", output_field=models.BigIntegerField())
    )
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(sent_at__isnull=True), name="outbox_unsent"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.aggregate_type}:{self.aggregate_id}"
class ProcessedEvent(models.Model):
    """An outbox event a consumer has applied; written with the read-model change."""

    consumer = models.CharField(max_length=64)
    event_id = models.UUIDField()
    processed_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consumer", "event_id"],
                                    name="processed_event_unique_consumer_event"),
        ]

    def __str__(self) -> str:
        return f"{self.consumer}:{self.event_id}"


class TaskDelivery(models.Model):
    """How many times a broker delivered one task message (the redelivery cap)."""

    task_id = models.CharField(max_length=255, primary_key=True)
    deliveries = models.PositiveIntegerField(default=0)
    first_delivered_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"{self.task_id} x{self.deliveries}"


class ParkedTask(models.Model):
    """A task delivered more than CELERY_TASK_MAX_REDELIVERIES times: set aside, alerted."""

    task_id = models.CharField(max_length=255, unique=True)
    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    deliveries = models.PositiveIntegerField()
    last_error = models.TextField(blank=True, default="")
    parked_at = models.DateTimeField(db_default=Now(), db_index=True)
    requeued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"
