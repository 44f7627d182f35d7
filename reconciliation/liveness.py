"""Celery liveness, judged from outside the workers.

A monitor that runs on the worker cannot report that the worker is frozen. So:

- every worker's main process stamps `ops:celery:workers[<hostname>]` in Redis every
  CELERY_HEARTBEAT_INTERVAL_S from a thread of its own (started on `worker_ready`, removed
  on a clean shutdown);
- beat sends `worker_probe_task` every CELERY_PROBE_INTERVAL_S and whichever worker runs it
  stamps `ops:celery:probe`: proof that a task actually went broker -> worker -> done;
- beat stamps `ops:celery:beat` from a thread of its own (started on `beat_init`), which
  also runs `celery_liveness_monitor`: a worker stamp older than CELERY_WORKER_STALL_S
  (SIGSTOP, deadlock, dead process) raises an Alert, cleared once the stamps are fresh;
- the web tier reads the same stamps: the dashboard runs the monitor on every view (so the
  alert is raised even when beat lives inside the frozen worker, `worker -B`) and /readyz
  reports the problem as "degraded" (200): a Celery outage does not stop deposits, bets or
  withdrawals being accepted, so it must not take the web tier out of a load balancer.

`celery_liveness` only reads; `celery_liveness_monitor` writes Alerts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import redis
from celery import shared_task
from celery.signals import beat_init, worker_ready, worker_shutdown
from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import Alert
from .monitoring import Breach
from .services import alert_clear, alert_raise

logger = logging.getLogger(__name__)

WORKERS_KEY = "ops:celery:workers"
PROBE_KEY = "ops:celery:probe"
BEAT_KEY = "ops:celery:beat"
ALERT_PREFIX = "celery_"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1,
                                socket_connect_timeout=1)


@dataclass(frozen=True)
class WorkerStamp:
    hostname: str
    age_s: float

    @property
    def stalled(self) -> bool:
        return self.age_s > settings.CELERY_WORKER_STALL_S


@dataclass
class CeleryLiveness:
    workers: list[WorkerStamp] = field(default_factory=list)
    probe_age_s: float | None = None
    probe_hostname: str = ""
    beat_age_s: float | None = None
    broker_error: str | None = None

    @property
    def fresh_workers(self) -> list[WorkerStamp]:
        return [w for w in self.workers if not w.stalled]


def celery_liveness(*, now: datetime) -> CeleryLiveness:
    """Read the worker, probe and beat stamps (no writes)."""
    ts = now.timestamp()
    try:
        client = _redis()
        pipe = client.pipeline()
        pipe.hgetall(WORKERS_KEY)
        pipe.get(PROBE_KEY)
        pipe.get(BEAT_KEY)
        workers, probe, beat = pipe.execute()
    except redis.RedisError as exc:
        return CeleryLiveness(broker_error=f"broker unreachable ({type(exc).__name__})")
    snap = CeleryLiveness(
        workers=sorted((WorkerStamp(h.decode(), max(0.0, ts - float(v)))
                        for h, v in workers.items()), key=lambda w: w.hostname),
        beat_age_s=max(0.0, ts - float(beat)) if beat else None,
    )
    if probe:
        data = json.loads(probe)
        snap.probe_age_s = max(0.0, ts - float(data["at"]))
        snap.probe_hostname = data.get("hostname", "")
    return snap


def liveness_breaches(snap: CeleryLiveness, *, check_beat: bool = True) -> list[Breach]:
    """What is wrong with Celery according to a snapshot. `check_beat` is False in beat
    itself (it cannot see itself stop)."""
    stall = settings.CELERY_WORKER_STALL_S
    if snap.broker_error:
        return [Breach("celery_broker", snap.broker_error, 1, 0)]
    out: list[Breach] = []
    for w in snap.workers:
        if w.stalled:
            out.append(Breach(f"celery_worker_stalled:{w.hostname}",
                              f"Celery worker {w.hostname} has sent no heartbeat for "
                              f"{w.age_s:.0f}s (stalled or dead; threshold {stall}s)",
                              w.age_s, stall))
    if not snap.workers:
        out.append(Breach("celery_no_worker", "no Celery worker has ever reported (or all were "
                          "silent long enough to be forgotten): no task is being run", 1, 0))
    beat_fresh = snap.beat_age_s is not None and snap.beat_age_s <= stall
    if check_beat and snap.beat_age_s is not None and not beat_fresh:
        out.append(Breach("celery_beat_down", f"Celery beat has sent no heartbeat for "
                          f"{snap.beat_age_s:.0f}s: no periodic job (sweeper, relay, "
                          f"reconciliation) is being scheduled", snap.beat_age_s, stall))
    # Probes only flow while beat sends them: a stale probe with a live beat means tasks are
    # not being run even if some worker still stamps its heartbeat (pool hung, queue stuck).
    if (beat_fresh or not check_beat) and snap.probe_age_s is not None \
            and snap.probe_age_s > stall:
        out.append(Breach("celery_tasks_stalled", f"no Celery task has completed for "
                          f"{snap.probe_age_s:.0f}s (probe; threshold {stall}s)",
                          snap.probe_age_s, stall))
    return out


def celery_liveness_monitor(*, now: datetime, check_beat: bool = True) -> list[Breach]:
    """Raise an Alert per Celery problem and clear the Celery alerts that recovered; forget
    workers silent for longer than CELERY_WORKER_FORGET_S."""
    snap = celery_liveness(now=now)
    breaches = liveness_breaches(snap, check_beat=check_beat)
    for b in breaches:
        alert_raise(name=b.name, detail=b.detail, value=b.value, threshold=b.threshold,
                    severity="critical", now=now)
    crossed = {b.name for b in breaches}
    if not snap.broker_error:
        open_names = Alert.objects.filter(cleared_at__isnull=True,
                                          name__startswith=ALERT_PREFIX).values_list("name",
                                                                                     flat=True)
        for name in set(open_names) - crossed:
            if name == "celery_beat_down" and not check_beat:
                continue  # only an observer outside beat may clear it
            alert_clear(name=name, now=now)
        forget = [w.hostname for w in snap.workers if w.age_s > settings.CELERY_WORKER_FORGET_S]
        if forget:
            try:
                _redis().hdel(WORKERS_KEY, *forget)
            except redis.RedisError:
                logger.warning("could not forget silent workers", exc_info=True)
    return breaches


def readiness_problem() -> str | None:
    """/readyz "celery" check (READINESS_CHECKS): it only degrades readiness, never 503."""
    breaches = liveness_breaches(celery_liveness(now=timezone.now()))
    return "; ".join(b.detail for b in breaches) or None


# --- stamps written by the Celery processes ---------------------------------------------------


@shared_task(bind=True, name="reconciliation.worker_probe", time_limit=10, soft_time_limit=8,
             ignore_result=True)
def worker_probe_task(self) -> None:
    stamp = {"hostname": self.request.hostname or "", "at": time.time()}
    _redis().set(PROBE_KEY, json.dumps(stamp))


class _Ticker(threading.Thread):
    """Runs `step` every `interval` seconds until stopped; never dies of an exception."""

    def __init__(self, name: str, interval: float, step):
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.step = step
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a monitor must outlive a failing dependency
                logger.warning("%s step failed", self.name, exc_info=True)
            self.stopped.wait(self.interval)


_worker_tickers: dict[str, _Ticker] = {}


@worker_ready.connect
def _worker_heartbeat_start(sender=None, **_kwargs) -> None:
    hostname = sender.hostname

    def stamp() -> None:
        _redis().hset(WORKERS_KEY, hostname, time.time())  # type: ignore[arg-type]  # floats go

    ticker = _Ticker("celery-worker-heartbeat", settings.CELERY_HEARTBEAT_INTERVAL_S, stamp)
    _worker_tickers[hostname] = ticker
    ticker.start()


@worker_shutdown.connect
def _worker_heartbeat_stop(sender=None, **_kwargs) -> None:
    hostname = getattr(sender, "hostname", None)
    if not hostname:
        return
    ticker = _worker_tickers.pop(hostname, None)
    if ticker is None:
        return
    ticker.stopped.set()
    try:
        # A clean shutdown is not an outage: forget the worker instead of alerting on it.
        _redis().hdel(WORKERS_KEY, hostname)
    except redis.RedisError:
        logger.warning("could not remove the worker heartbeat", exc_info=True)


@beat_init.connect
def _beat_monitor_start(sender=None, **_kwargs) -> None:
    def step() -> None:
        _redis().set(BEAT_KEY, time.time())
        try:
            celery_liveness_monitor(now=timezone.now(), check_beat=False)
        finally:
            connection.close()  # this thread's own connection; reopened next step

    _Ticker("celery-liveness-monitor", settings.CELERY_LIVENESS_CHECK_INTERVAL_S, step).start()
