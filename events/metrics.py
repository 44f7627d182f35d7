"""Prometheus counters of the relay and the consumers (per process; see docs/events.md)."""

from prometheus_client import Counter

EVENTS_RELAYED = Counter("operator_outbox_events_relayed_total", "Outbox events marked sent")
EVENTS_APPLIED = Counter("operator_consumer_events_applied_total",
                         "Events applied to a read model", ["consumer"])
EVENTS_DUPLICATE = Counter("operator_consumer_events_duplicate_total",
                           "Event deliveries ignored as already applied", ["consumer"])
TASKS_PARKED = Counter("operator_tasks_parked_total",
                       "Tasks parked after the redelivery cap", ["task"])
