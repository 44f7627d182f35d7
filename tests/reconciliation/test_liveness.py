"""Celery liveness judged from Redis stamps, outside the workers: alerts raised and cleared,
/readyz degraded (200) for Celery problems and 503 only when the database is unreachable."""

import json
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from reconciliation import liveness
from reconciliation.models import Alert

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stamps():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = (liveness.WORKERS_KEY, liveness.PROBE_KEY, liveness.BEAT_KEY)
    client.delete(*keys)
    yield client
    client.delete(*keys)


def _open():
    return dict(Alert.objects.filter(cleared_at__isnull=True).values_list("name", "detail"))


def test_stalled_worker_raises_an_alert_that_clears_when_it_beats_again(stamps):
    now = timezone.now()
    stamps.hset(liveness.WORKERS_KEY, "w1@host", (now - timedelta(seconds=5)).timestamp())
    stamps.hset(liveness.WORKERS_KEY, "w2@host", (now - timedelta(seconds=95)).timestamp())
    stamps.set(liveness.BEAT_KEY, now.timestamp())

    breaches = liveness.celery_liveness_monitor(now=now)

    assert [b.name for b in breaches] == ["celery_worker_stalled:w2@host"]
    alerts = _open()
    assert list(alerts) == ["celery_worker_stalled:w2@host"]
    assert "no heartbeat for 95s" in alerts["celery_worker_stalled:w2@host"]
    assert Alert.objects.get().severity == "critical"

    # Stays one alert while the stall lasts.
    liveness.celery_liveness_monitor(now=now + timedelta(seconds=10))
    assert Alert.objects.count() == 1

    stamps.hset(liveness.WORKERS_KEY, "w2@host", (now + timedelta(seconds=19)).timestamp())
    assert liveness.celery_liveness_monitor(now=now + timedelta(seconds=20)) == []
    assert _open() == {}
    assert Alert.objects.get().cleared_at == now + timedelta(seconds=20)


def test_no_worker_beat_down_and_stalled_tasks_are_named(stamps):
    now = timezone.now()
    assert [b.name for b in liveness.liveness_breaches(liveness.celery_liveness(now=now))] == [
        "celery_no_worker"]

    stamps.hset(liveness.WORKERS_KEY, "w1@host", now.timestamp())
    stamps.set(liveness.BEAT_KEY, (now - timedelta(seconds=60)).timestamp())
    stamps.set(liveness.PROBE_KEY, json.dumps({"hostname": "w1@host",
                                              "at": (now - timedelta(seconds=60)).timestamp()}))
    snap = liveness.celery_liveness(now=now)
    # Beat down explains the stale probe: only beat is named.
    assert [b.name for b in liveness.liveness_breaches(snap)] == ["celery_beat_down"]
    # Beat cannot see itself; it sees the probe.
    assert [b.name for b in liveness.liveness_breaches(snap, check_beat=False)] == [
        "celery_tasks_stalled"]

    stamps.set(liveness.BEAT_KEY, now.timestamp())
    snap = liveness.celery_liveness(now=now)
    assert [b.name for b in liveness.liveness_breaches(snap)] == ["celery_tasks_stalled"]


def test_beat_side_monitor_leaves_the_beat_alert_to_others(stamps):
    now = timezone.now()
    stamps.hset(liveness.WORKERS_KEY, "w1@host", now.timestamp())
    stamps.set(liveness.BEAT_KEY, (now - timedelta(seconds=60)).timestamp())
    liveness.celery_liveness_monitor(now=now)
    assert list(_open()) == ["celery_beat_down"]

    liveness.celery_liveness_monitor(now=now, check_beat=False)
    assert list(_open()) == ["celery_beat_down"]

    stamps.set(liveness.BEAT_KEY, now.timestamp())
    liveness.celery_liveness_monitor(now=now)
    assert _open() == {}


@override_settings(CELERY_WORKER_FORGET_S=300)
def test_long_silent_workers_are_forgotten(stamps):
    now = timezone.now()
    stamps.hset(liveness.WORKERS_KEY, "gone@host", (now - timedelta(seconds=400)).timestamp())
    stamps.hset(liveness.WORKERS_KEY, "live@host", now.timestamp())
    liveness.celery_liveness_monitor(now=now)
    assert set(stamps.hkeys(liveness.WORKERS_KEY)) == {b"live@host"}
    liveness.celery_liveness_monitor(now=now)
    assert _open() == {}


def test_unreachable_broker_is_one_alert_and_clears_nothing(settings):
    now = timezone.now()
    Alert.objects.create(name="celery_worker_stalled:w@h", detail="x", raised_at=now,
                         last_seen_at=now)
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    liveness.celery_liveness_monitor(now=now)
    assert set(_open()) == {"celery_broker", "celery_worker_stalled:w@h"}


def test_readyz_is_degraded_not_unavailable_when_celery_is_down(client, stamps):
    stamps.hset(liveness.WORKERS_KEY, "w1@host", time.time() - 120)
    resp = client.get("/readyz")
    body = resp.json()
    assert resp.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    assert "w1@host has sent no heartbeat" in body["checks"]["celery"]
    assert "down" not in body

    stamps.hset(liveness.WORKERS_KEY, "w1@host", time.time())
    body = client.get("/readyz").json()
    assert body["checks"]["celery"] == "ok"


def test_readyz_is_degraded_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    resp = client.get("/readyz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"].startswith("unreachable")
    assert body["checks"]["celery"].startswith("broker unreachable")
