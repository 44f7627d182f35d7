"""Start the real pieces (private Redis, ASGI server, Celery worker/beat) as subprocesses."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


class PrivateRedis:
    """A throwaway redis-server, so tests can stop it without hurting anything else."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="redis-test-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        wait_for(lambda: _ping(redis.Redis(port=self.port)), 10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _ping(client) -> bool:
    try:
        return client.ping()
    except Exception:  # noqa: BLE001
        return False


def service_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=test_database_url(),
               PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    # The leader's children (a script's worker, beat, server) may still be shutting down and
    # holding database connections: wait for the whole group, then kill what is left.
    deadline = time.monotonic() + 15
    while _group_alive(proc.pid):
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    """Does any process of the group still run (zombies do not count)?"""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def start_asgi(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = spawn([str(BIN / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], env)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _get_ok(f"{base}/healthz"), 30)
    return proc, base


def start_worker(env: dict[str, str], *, beat: bool = False, name: str = "w") -> subprocess.Popen:
    args = [str(BIN / "celery"), "-A", "config", "worker", "-l", "warning", "--concurrency", "1",
            "-n", f"{name}.{os.getpid()}@%h", "--without-gossip", "--without-mingle"]
    if beat:
        args += ["-B", "-s", tempfile.mktemp(prefix="beat-")]
    return spawn(args, env)


def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running(*procs: subprocess.Popen):
    try:
        yield
    finally:
        for p in procs:
            stop(p)
