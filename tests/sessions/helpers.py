"""Shared by the game-session tests (consumer, multi-process and browser)."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

# Transactional tests flush only these apps' tables (TRUNCATE ... CASCADE): much faster than
# the whole schema, and it leaves auth groups, permissions and content types in place.
AVAILABLE_APPS = ["common", "events", "users", "wallet", "sessions"]
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PORTS = range(18300, 18400)  # this app's live-server ports


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18300-18399")


def server_env(*, redis_url: str, **overrides) -> dict:
    """Environment for subprocesses that must see the test run's (committed) data."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        GAME_SESSION_HEARTBEAT_INTERVAL_S="1",
        GAME_SESSION_TIMEOUT_S="3",
        GAME_SESSION_SWEEP_INTERVAL_S="1",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s")


def start_asgi(env: dict, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(BIN / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    _wait_port(port, proc)
    return proc


def start_redis(log: Path) -> tuple[subprocess.Popen, str]:
    """A throwaway redis-server (broker and channel layer of the subprocesses): no task or
    group left by anything else can delay the sweeper, and nothing else is touched."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--maxmemory-policy", "noeviction"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    _wait_port(port, proc, timeout=10)
    return proc, f"redis://127.0.0.1:{port}/0"


def start_celery(env: dict, log: Path) -> subprocess.Popen:
    """A worker with an embedded beat (DatabaseScheduler reads CELERY_BEAT_SCHEDULE)."""
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "config", "worker", "-B", "--pool", "solo",
         "-l", "warning", "-n", f"sessions-e2e-{os.getpid()}@%h", "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen | None, *, sig=signal.SIGTERM, timeout: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


@contextmanager
def processes():
    """Collect started subprocesses and stop every one of them, whatever happens."""
    started: list[subprocess.Popen] = []
    try:
        yield started
    finally:
        for proc in reversed(started):
            stop(proc)


def wait_until(predicate, *, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)
