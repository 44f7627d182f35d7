"""Pooled database connections: threads, ASGI requests and forked children each borrow a
connection and give it back; nothing leaks and nothing is shared."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import connection

from config.asgi import application
from tests.factories import make_player
from tests.platform.test_hot_paths import bearer_token

pytestmark = pytest.mark.django_db(transaction=True)


def _backend_pid() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def _pool_idle(pool, timeout: float = 15) -> bool:
    """Every connection the pool manages is back in it (connections the pool is still
    opening in the background count as not yet back: wait for them, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = pool.get_stats()
        if stats.get("requests_waiting", 0) == 0 and stats["pool_available"] == stats["pool_size"]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_the_default_setup_pools_connections():
    assert connection.settings_dict["CONN_MAX_AGE"] == 0
    assert connection.pool is not None


def test_threads_give_their_connections_back():
    pool = connection.pool
    wave, waves = 6, 5
    pids: set[int] = set()
    errors: list[BaseException] = []
    connection.close()  # the test's own connection back too

    def borrower(barrier):
        try:
            barrier.wait(timeout=30)
            pids.add(_backend_pid())
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    for _ in range(waves):
        barrier = threading.Barrier(wave)
        threads = [threading.Thread(target=borrower, args=(barrier,)) for _ in range(wave)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    # 30 borrowers, never more than `wave` at once: the same few sessions served them all.
    assert len(pids) <= max(wave, pool.get_stats()["pool_size"]) < wave * waves
    assert _pool_idle(pool)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        sessions = cur.fetchone()[0]
    assert sessions <= pool.max_size


def _asgi_get(path: str, token: str) -> int:
    """One request through the real ASGI application (the test clients unhook Django's
    connection closing on purpose, so they cannot show what a server does)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1"),
                                          (b"authorization", f"Bearer {token}".encode())],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}

    async def call() -> int:
        app = ApplicationCommunicator(application, scope)
        await app.send_input({"type": "http.request", "body": b""})
        start = await app.receive_output(30)
        await app.receive_output(30)
        await app.wait(30)
        return start["status"]

    return call()


def test_asgi_requests_give_their_connections_back():
    player = make_player(funds={"USD": 100})
    token = bearer_token(player)
    pool = connection.pool
    connection.close()

    async def storm():
        return await asyncio.gather(*(_asgi_get("/api/v1/wallets/", token) for _ in range(25)))

    assert set(asyncio.run(storm())) == {200}
    assert _pool_idle(pool)


def _sessions_here() -> set[int]:
    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return {row[0] for row in cur.fetchall()}


def test_forked_child_never_uses_its_parents_sessions():
    _backend_pid()
    parents = _sessions_here()  # only this process uses the test database now
    connection.close()  # idle in the pool: sessions a careless child would pick up
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.write(write, str(_backend_pid()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    child_pid = int(os.read(read, 64).decode() or 0)
    os.close(read)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_pid != 0
    assert child_pid not in parents
    # The parent's pooled sessions survived the child, and the parent still works.
    assert parents <= _sessions_here()
