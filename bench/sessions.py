"""Game-session heartbeats and silent-drop release under load.

N WebSocket sessions (default 1,000) against ONE ASGI process (uvicorn) plus a Celery worker
with beat, each heartbeating once a second for D seconds (default 60). Every session holds an
open hilo round (stake 1.00 reserved). A fraction goes silent mid-run without closing.

Prints:
- ASGI server CPU per heartbeat (process utime+stime over the run / heartbeats acknowledged),
  against a raw-SQL baseline measured in the same run (the heartbeat's UPDATE by primary key,
  autocommit, over one psycopg connection) as a ratio;
- for silent sessions, the delay from their last heartbeat (as recorded by the server) to the
  release of their funds (the session's close, which commits with the void): p50, p99, max,
  against the target timeout + sweep interval + 1 s;
- false expiries (sessions that kept heartbeating but were expired): must be 0.

Runs in a throwaway database (created, migrated, dropped) with a throwaway redis-server on
--port + 1. Usage:

    DJANGO_SETTINGS_MODULE=config.settings.dev .venv/bin/python bench/sessions.py [--sessions 1000] [--duration 60] [--silent 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of heartbeating")
    ap.add_argument("--silent", type=float, default=0.1, help="fraction of sessions going silent")
    ap.add_argument("--timeout", type=int, default=15, help="GAME_SESSION_TIMEOUT_S")
    ap.add_argument("--sweep", type=int, default=5, help="GAME_SESSION_SWEEP_INTERVAL_S")
    ap.add_argument("--port", type=int, default=18390)
    return ap.parse_args()


def db_url_with_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60,
              what: str = "ASGI server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited ({proc.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


# --- the clients ---------------------------------------------------------------------------


async def client(url: str, origin: str, stop_at: float, silent_at: float | None, stats: dict):
    from websockets.asyncio.client import connect

    async with connect(url, origin=origin, open_timeout=60, ping_interval=None,
                       max_queue=None) as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "session_state", first
        stats["connected"] += 1

        async def reader():
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "heartbeat_ack":
                    stats["acks"] += 1
                elif msg["type"] == "session_closed":
                    stats[f"closed_{msg['status']}"] += 1

        read_task = asyncio.create_task(reader())
        # spread the beats over the second
        await asyncio.sleep(random.random())
        loop = asyncio.get_running_loop()
        while loop.time() < stop_at:
            if silent_at is not None and loop.time() >= silent_at:
                break  # go silent: keep the socket open, send nothing more
            try:
                await ws.send('{"type":"heartbeat"}')
            except Exception:  # noqa: BLE001 - the server closed us
                break
            stats["sent"] += 1
            await asyncio.sleep(1.0)
        # silent ones wait (socket open) for the server to close them; others close cleanly
        if silent_at is not None:
            try:
                await asyncio.wait_for(read_task, timeout=max(0.0, stop_at - loop.time()) + 5)
            except (TimeoutError, Exception):  # noqa: BLE001
                pass
        read_task.cancel()


WAVE, WAVE_PAUSE_S = 50, 0.5


def started_now(session_ids) -> None:
    from django.utils import timezone

    from sessions.models import GameSession

    GameSession.objects.filter(pk__in=session_ids).update(last_heartbeat_at=timezone.now())


async def run_clients(targets, origin, duration, silent_fraction, timeout_s, sweep_s):
    from collections import Counter

    from asgiref.sync import sync_to_async

    stats: Counter = Counter()
    loop = asyncio.get_running_loop()
    # connect in waves so the handshakes do not all land at once
    start = loop.time() + 2 + len(targets) / WAVE * WAVE_PAUSE_S
    stop_at = start + duration
    latest_silent = max(start + 5, stop_at - timeout_s - sweep_s - 3)
    tasks, silent_ids = [], []
    for w in range(0, len(targets), WAVE):
        wave = targets[w:w + WAVE]
        # As if these sessions had just been started by POST /games/sessions/: refresh every
        # session not yet connected, or the sweeper (running all along) would expire the
        # later waves' sessions before their sockets even open.
        await sync_to_async(started_now)([sid for sid, _ in targets[w:]])
        for sid, url in wave:
            silent_at = None
            if random.random() < silent_fraction:
                silent_at = random.uniform(start + 3, latest_silent)
                silent_ids.append(sid)
            tasks.append(asyncio.create_task(client(url, origin, stop_at, silent_at, stats)))
        await asyncio.sleep(WAVE_PAUSE_S)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    return stats, silent_ids, errors


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.sessions + 256)), hard))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/operator")
    bench_db = f"bench_sessions_{os.getpid()}"
    bench_url = db_url_with_name(base_url, bench_db)

    import psycopg

    admin_url = db_url_with_name(base_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{bench_db}"')
    os.environ["DATABASE_URL"] = bench_url
    procs: list[subprocess.Popen] = []
    logdir = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    try:
        # A throwaway Redis (broker + channel layer): nothing queued by anyone else delays
        # the sweeper, and what this run queues disappears with it.
        redis_port = args.port + 1
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(redis_port, procs[-1], what="redis-server")
        os.environ["REDIS_URL"] = os.environ["CELERY_BROKER_URL"] = \
            f"redis://127.0.0.1:{redis_port}/0"
        run(args, bench_url, procs, logdir)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')


def run(args, bench_url: str, procs: list, logdir: Path) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from sessions import services
    from sessions.models import GameSession
    from users.models import User
    from wallet.ledger import Posting, ledger_post, player_accounts, system_account
    from wallet.models import AccountKind

    t0 = time.monotonic()
    call_command("migrate", verbosity=0)
    print(f"migrated throwaway database in {time.monotonic() - t0:.1f}s")

    # Players, funds, sessions and one open round each (funds held).
    t0 = time.monotonic()
    users = User.objects.bulk_create(
        [User(username=f"bench{i}", email=f"bench{i}@bench.test") for i in range(args.sessions)]
    )
    clearing = system_account(AccountKind.PROVIDER_CLEARING, "USD")
    now = timezone.now()

    def set_up(user):
        with transaction.atomic():
            accts = player_accounts(player_id=user.pk, currency="USD")
            ledger_post(kind="deposit", reference="bench", postings=[
                Posting(clearing, -10_000), Posting(accts.cash, 10_000)])
        session = services.game_session_start(player=user, game="hilo", currency="USD", now=now)
        services.game_round_bet(session_id=session.pk, player=user, client_round_id=uuid.uuid4(),
                                stake=100, now=now)
        return session.pk

    with ThreadPoolExecutor(4) as pool:
        targets = list(pool.map(set_up, users))
    print(f"created {len(users)} funded players, live sessions and open rounds "
          f"in {time.monotonic() - t0:.1f}s")

    env = dict(os.environ, DATABASE_URL=bench_url, GAME_SESSION_HEARTBEAT_INTERVAL_S="1",
               GAME_SESSION_TIMEOUT_S=str(args.timeout),
               GAME_SESSION_SWEEP_INTERVAL_S=str(args.sweep), LOG_LEVEL="WARNING", DEBUG="false")
    asgi = subprocess.Popen(
        [str(BIN / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port",
         str(args.port), "--log-level", "warning", "--no-access-log", "--ws-ping-interval", "0"],
        cwd=ROOT, env=env, stdout=(logdir / "asgi.log").open("wb"), stderr=subprocess.STDOUT)
    procs.append(asgi)
    procs.append(subprocess.Popen(
        [str(BIN / "celery"), "-A", "config", "worker", "-B", "--pool", "solo", "-l", "warning",
         "-n", f"bench-sessions-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=(logdir / "celery.log").open("wb"), stderr=subprocess.STDOUT))
    wait_port(args.port, asgi)

    origin = f"http://127.0.0.1:{args.port}"
    urls = [
        (sid, f"ws://127.0.0.1:{args.port}/ws/games/sessions/{sid}/"
              f"?token={services.ws_token(session_id=sid)}")
        for sid in targets
    ]
    cpu0, wall0 = proc_cpu_s(asgi.pid), time.monotonic()
    stats, silent_ids, errors = asyncio.run(
        run_clients(urls, origin, args.duration, args.silent, args.timeout, args.sweep))
    cpu1, wall1 = proc_cpu_s(asgi.pid), time.monotonic()

    # Let the last silent sessions run out their timeout.
    deadline = time.monotonic() + args.timeout + args.sweep + 5
    while time.monotonic() < deadline and GameSession.objects.filter(
            pk__in=silent_ids, status="live").exists():
        time.sleep(0.5)

    silent = list(GameSession.objects.filter(pk__in=silent_ids))
    delays = [(s.closed_at - s.last_heartbeat_at).total_seconds() for s in silent if s.closed_at]
    unreleased = [s.pk for s in silent if s.status == "live"]
    reasons = {}
    for s in silent:
        if s.closed_at:
            h = s.history.first()
            key = h.history_change_reason if h else "?"
            reasons[key] = reasons.get(key, 0) + 1
    # A session that heartbeats to the end and is then left alone expires too, after the run:
    # only count those closed before the clients stopped.
    stopped_at = timezone.now() - timedelta(seconds=time.monotonic() - wall1)
    false_expiries = GameSession.objects.filter(
        pk__in=set(targets) - set(silent_ids), status="expired", closed_at__lt=stopped_at).count()

    # Raw-SQL baseline: the heartbeat's UPDATE by primary key, autocommit, one connection.
    n_base = 3000
    live_ids = list(GameSession.objects.filter(status="live").values_list("pk", flat=True)[:100]) \
        or targets[:100]
    with connection.cursor() as cur:
        b0, c0 = time.perf_counter(), time.process_time()
        for i in range(n_base):
            cur.execute(
                "UPDATE game_sessions_gamesession SET last_heartbeat_at = now() "
                "WHERE id = %s AND status = 'live'", [live_ids[i % len(live_ids)]])
        base_ms = (time.perf_counter() - b0) * 1000 / n_base
        base_cpu_ms = (time.process_time() - c0) * 1000 / n_base

    acks = stats["acks"]
    cpu_ms = (cpu1 - cpu0) * 1000 / acks if acks else float("nan")
    target = args.timeout + args.sweep + 1
    print()
    print(f"sessions {args.sessions} (connected {stats['connected']}), heartbeating "
          f"{args.duration:.0f}s, one ASGI process; client errors {len(errors)}")
    if errors:
        print(f"  first error: {errors[0]!r}")
    print(f"heartbeats sent {stats['sent']}, acknowledged {acks} "
          f"({acks / (wall1 - wall0):.0f}/s over {wall1 - wall0:.0f}s)")
    print(f"ASGI CPU per heartbeat: {cpu_ms:.3f} ms  (process CPU {cpu1 - cpu0:.1f}s; includes "
          f"connects, bets' timers and closes)")
    print(f"raw-SQL baseline, one UPDATE by pk per heartbeat (autocommit, one connection): "
          f"{base_ms:.3f} ms wall, {base_cpu_ms:.3f} ms client CPU per statement "
          f"(caps one connection at {1000 / base_ms:.0f} heartbeats/s)")
    print(f"ratio ASGI CPU per heartbeat / raw UPDATE wall: {cpu_ms / base_ms:.2f}x; "
          f"/ raw UPDATE client CPU: {cpu_ms / base_cpu_ms:.2f}x")
    print(f"silent sessions {len(silent)}: released {len(delays)}, unreleased {len(unreleased)}; "
          f"by {reasons}")
    if delays:
        p50, p99 = percentile(delays, 50), percentile(delays, 99)
        print(f"last heartbeat -> funds released: p50 {p50:.2f}s  p99 {p99:.2f}s  "
              f"max {max(delays):.2f}s  mean {statistics.mean(delays):.2f}s")
        verdict = "MET" if p99 <= target else "MISSED"
        print(f"target p99 <= timeout {args.timeout}s + sweep {args.sweep}s + 1s = {target}s: "
              f"{verdict}")
    print(f"false expiries (heartbeating sessions expired during the run): {false_expiries}")
    print(f"logs: {logdir}")


if __name__ == "__main__":
    main()
