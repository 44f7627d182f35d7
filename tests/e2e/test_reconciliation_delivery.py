"""The outbox under failure, against a real Celery worker and a private Redis:
Redis stopped while money moves, and a worker child SIGKILLed in the middle of a consumer."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone as dj_timezone

from events.models import OutboxEvent, ProcessedEvent
from events.registry import CONSUMERS, consumers_for
from events.relay import CeleryBatch, events_replay, outbox_relay
from reconciliation.models import PlayerSummary
from reconciliation.monitoring import lag_monitor, readiness_degradations
from tests.e2e.procs import BIN, ROOT, service_env, stop, wait_for
from tests.factories import balances, make_player
from tests.reconciliation.helpers import deposit, read_model_state, settled_bet

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _port() -> int:
    # The range reserved for this app's private Redis servers.
    for port in range(6390, 6400):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 6390-6399")


class DurableRedis:
    """A private redis-server with an append-only file, as a broker must run: stopping and
    restarting it keeps the messages it had accepted."""

    def __init__(self):
        self.port = _port()
        self.dir = tempfile.mkdtemp(prefix="recon-redis-")
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always",
             "--maxmemory-policy", "noeviction", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        wait_for(lambda: _ping(redis.Redis(port=self.port)), 10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _ping(client) -> bool:
    try:
        return client.ping()
    except Exception:  # noqa: BLE001
        return False


def _start_worker(redis_url: str, log: Path) -> subprocess.Popen:
    env = service_env(REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url)
    handle = log.open("w")
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "config", "worker", "-l", "info", "--concurrency", "1",
         "-P", "prefork", "-n", f"recon.{os.getpid()}@%h", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _relay_to(url: str):
    """Run the relay once, publishing to the private broker (what the beat task does)."""
    from config.celery import app

    with app.connection_for_write(url) as conn:
        return outbox_relay(publish=CeleryBatch(conn.Producer()))


def _expected_deliveries() -> int:
    return sum(len(consumers_for(t)) for t in OutboxEvent.objects.values_list("topic", flat=True))


def _all_applied() -> bool:
    return ProcessedEvent.objects.count() == _expected_deliveries()


def _assert_read_models_match_ledger(players) -> None:
    for player in players:
        b = balances(player)
        s = PlayerSummary.objects.get(player_id=player.pk, currency="USD")
        assert s.net == b["cash"] + b["reserved"] + b["bonus"], player.pk
        relevant = OutboxEvent.objects.filter(
            payload__player_id=player.pk, topic__in=CONSUMERS["player_summary"].topics).count()
        assert s.events_applied == relevant  # each event applied exactly once
    # One ProcessedEvent per (consumer, event): nothing missing, nothing twice (UNIQUE).
    assert ProcessedEvent.objects.count() == _expected_deliveries()


def test_redis_stopped_while_money_moves(tmp_path, settings):
    settings.LAG_OUTBOX_OLDEST_UNSENT_S = 0  # any unsent event counts as lag here
    redis = DurableRedis()
    redis.start()
    worker = _start_worker(redis.url, tmp_path / "worker.log")
    players = [make_player() for _ in range(3)]
    try:
        deposit(players[0], 10_000)
        _relay_to(redis.url)
        wait_for(_all_applied, 60, 0.3)

        redis.stop()
        errors: list[Exception] = []

        def move_money(player):
            try:
                for n in range(4):
                    deposit(player, 1_000 + n)
                    settled_bet(player, 200, 350 if n % 2 else 0)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=move_money, args=(p,)) for p in players]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        # The relay keeps trying while the broker is down: nothing is lost, nothing sent.
        failed = _relay_to(redis.url)
        assert failed.relayed == 0 and failed.error
        unsent = OutboxEvent.objects.filter(sent_at__isnull=True).count()
        assert unsent == 3 * 4 * 4  # every operation committed with its events
        # ... and the backlog is visible: /readyz is degraded, an alert is recorded.
        assert "outbox_lag" in {d["name"] for d in readiness_degradations()}
        assert "outbox_lag" in {b.name for b in lag_monitor(now=dj_timezone.now())}

        redis.start()
        wait_for(lambda: _relay_to(redis.url).relayed == 0
                 and not OutboxEvent.objects.filter(sent_at__isnull=True).exists(), 60, 0.5)
        wait_for(_all_applied, 90, 0.5)
        _assert_read_models_match_ledger(players)
        assert readiness_degradations() == []

        # Replaying the whole outbox through the worker changes no read model.
        before = read_model_state()
        from config.celery import app

        with app.connection_for_write(redis.url) as conn:
            replay = events_replay(since=datetime(2000, 1, 1, tzinfo=UTC),
                                   publish=CeleryBatch(conn.Producer()))
        assert replay.published == _expected_deliveries()
        wait_for(lambda: _broker_idle(redis.port), 60, 0.3)
        assert read_model_state() == before
    finally:
        stop(worker)
        redis.cleanup()


def _broker_idle(port: int) -> bool:
    import redis as redis_lib

    client = redis_lib.Redis(port=port)

    def idle():
        # Nothing queued and nothing delivered-but-unacknowledged (kombu's "unacked" hash).
        return client.llen("celery") == 0 and client.hlen("unacked") == 0

    # Twice, a moment apart: a message is briefly in neither while the worker takes it.
    if not idle():
        return False
    time.sleep(0.3)
    return idle()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _consumer_blocked_on_lock() -> bool:
    with connections["default"].cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%%reconciliation_playersummary%%'")
        return cur.fetchone()[0] > 0


def test_worker_killed_mid_consumer_redelivers_and_applies_once(tmp_path):
    redis = DurableRedis()
    redis.start()
    log = tmp_path / "worker.log"
    worker = _start_worker(redis.url, log)
    player = make_player()
    try:
        deposit(player, 1_000)
        _relay_to(redis.url)
        wait_for(_all_applied, 60, 0.3)

        # Block writes to the summaries so the next consumer stops inside its transaction,
        # after it has written its ProcessedEvent row and before it commits.
        import psycopg

        holder = psycopg.connect(_dsn())
        try:
            # A table lock takes no transaction id (a row lock would, and the relay rightly
            # holds back every event committed after a transaction still running).
            holder.execute("LOCK TABLE reconciliation_playersummary IN SHARE MODE")
            deposit(player, 2_345)
            _relay_to(redis.url)
            wait_for(_consumer_blocked_on_lock, 30, 0.2)
            children = wait_for(lambda: _children(worker.pid), 10)
            for child in children:
                os.kill(child, signal.SIGKILL)
        finally:
            holder.rollback()
            holder.close()

        wait_for(_all_applied, 90, 0.5)
        summary = PlayerSummary.objects.get(player_id=player.pk, currency="USD")
        assert (summary.deposits, summary.events_applied) == (3_345, 2)
        _assert_read_models_match_ledger([player])
        assert "SIGKILL" in log.read_text()  # the worker saw its child die and requeued
    except BaseException:
        print(log.read_text()[-5000:])
        raise
    finally:
        stop(worker)
        redis.cleanup()


def _dsn() -> str:
    db = connections["default"].settings_dict
    return (f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} "
            f"user={db['USER'] or 'postgres'} dbname={db['NAME']}")

