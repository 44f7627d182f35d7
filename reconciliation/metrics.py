"""Prometheus metrics of the outbox, the consumers and the lag monitors.

Lag gauges are computed at scrape time by a collector (one cheap set of queries per
scrape), so every process serving /metrics reports the same current values and nothing
depends on which worker last ran the monitor. Counters are per process: with several web
or worker processes, run django-prometheus in multiprocess mode (PROMETHEUS_MULTIPROC_DIR)
or scrape each process; see docs/reconciliation.md.
"""

from __future__ import annotations

import logging

from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

# The shared counters (duplicate requests, duplicate callbacks, money operations) live in
# common.metrics; importing it here registers them for /metrics in every process.
import common.metrics  # noqa: F401

from .monitoring import lag_snapshot

logger = logging.getLogger(__name__)

class LagCollector:
    """Reports the lag monitors' current values as gauges."""

    def describe(self):
        # Nothing at registration time: collect() queries the database.
        return []

    def collect(self):
        try:
            snap = lag_snapshot(now=timezone.now())
        except Exception:  # noqa: BLE001 - a scrape must never fail because the DB is down
            logger.warning("lag snapshot failed during scrape", exc_info=True)
            return
        oldest = GaugeMetricFamily("operator_outbox_oldest_unsent_seconds",
                                   "Age of the oldest unsent outbox event")
        oldest.add_metric([], snap.outbox_oldest_unsent_s)
        yield oldest
        unsent = GaugeMetricFamily("operator_outbox_unsent_events", "Unsent outbox events")
        unsent.add_metric([], snap.outbox_unsent)
        yield unsent
        if snap.queue_depth is not None:
            depth = GaugeMetricFamily("operator_celery_queue_depth",
                                      "Messages waiting in the Celery broker queue")
            depth.add_metric([], snap.queue_depth)
            yield depth
        lag = GaugeMetricFamily("operator_consumer_lag_seconds",
                                "Age of the oldest event a consumer has not applied",
                                labels=["consumer"])
        pending = GaugeMetricFamily("operator_consumer_pending_events",
                                    "Events a consumer has not applied yet", labels=["consumer"])
        for name, c in snap.consumers.items():
            lag.add_metric([name], c.lag_seconds)
            pending.add_metric([name], c.pending_events)
        yield lag
        yield pending
        if snap.replica_lag_s is not None:
            replica = GaugeMetricFamily("operator_replica_lag_seconds",
                                        "Replication lag of the read replica")
            replica.add_metric([], snap.replica_lag_s)
            yield replica


_registered = {"done": False}


def register_collector() -> None:
    if not _registered["done"]:
        REGISTRY.register(LagCollector())
        _registered["done"] = True
