"""Database calls from the session sockets.

A small pool of single-thread executors, each keeping its own connection open between
calls. Channels' database_sync_to_async would reconnect on every call (CONN_MAX_AGE=0 here)
and asgiref's thread-sensitive mode funnels every socket of the process through ONE thread,
where a few milliseconds of round trip per query cap the whole process at a few hundred
queries a second: a connect storm then delays heartbeats past the timeout. Calls of one
socket are awaited one after the other, so they stay ordered whichever thread runs them.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections


def _call(fn, args, kwargs):
    try:
        return fn(*args, **kwargs)
    except (OperationalError, InterfaceError):
        # A connection the server dropped (restart, idle kill): reconnect and retry once.
        # Every service called from a socket is safe to repeat (client round ids, locked
        # re-checks).
        if connection.in_atomic_block:
            raise
        connection.close()
        return fn(*args, **kwargs)


class DBThreads:
    def __init__(self, size: int) -> None:
        self.executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"game-sessions-db-{i}")
            for i in range(size)
        ]
        self.queued = [0] * size  # changed on the event loop thread only
        self.priority = ThreadPoolExecutor(max_workers=1, thread_name_prefix="game-sessions-db-beat")

    async def run(self, fn, *args, **kwargs):
        i = min(range(len(self.queued)), key=self.queued.__getitem__)
        self.queued[i] += 1
        try:
            loop = asyncio.get_running_loop()
            job = functools.partial(contextvars.copy_context().run, _call, fn, args, kwargs)
            return await loop.run_in_executor(self.executors[i], job)
        finally:
            self.queued[i] -= 1

    async def run_priority(self, fn, *args, **kwargs):
        """Run on a thread of its own that nothing else queues on (the heartbeat flush):
        a connect storm on the shared threads must not delay heartbeats past the timeout."""
        loop = asyncio.get_running_loop()
        job = functools.partial(contextvars.copy_context().run, _call, fn, args, kwargs)
        return await loop.run_in_executor(self.priority, job)

    def close_connections(self) -> None:
        for executor in [*self.executors, self.priority]:
            executor.submit(connections.close_all).result()


_pool: DBThreads | None = None


def db_threads() -> DBThreads:
    global _pool
    if _pool is None:
        _pool = DBThreads(max(1, settings.GAME_SESSION_DB_THREADS))
    return _pool


def close_connections() -> None:
    """Close the pool's connections (tests, before the test database is flushed/dropped)."""
    if _pool is not None:
        _pool.close_connections()


def db(fn):
    """`await db(service)(**kwargs)`: run a sync DB function on the pool."""

    async def call(*args, **kwargs):
        return await db_threads().run(fn, *args, **kwargs)

    return call


def db_priority(fn):
    """Like `db`, on the dedicated thread that only the heartbeat flush uses."""

    async def call(*args, **kwargs):
        return await db_threads().run_priority(fn, *args, **kwargs)

    return call
