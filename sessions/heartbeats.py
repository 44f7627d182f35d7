"""Coalesce the heartbeats of every socket of this ASGI process into one UPDATE per tick.

With a thousand sockets beating once a second, one statement per heartbeat would queue
them behind each other on the process's one database thread (and a round trip each); one
batched UPDATE every FLUSH_S costs the same round trip for all of them. The heartbeat is
acknowledged only after its batch committed, so an ack still means "recorded in the
database", which is what the sweeper reads.
"""

from __future__ import annotations

import asyncio
import weakref

from django.utils import timezone

from . import services
from .db import db_priority

FLUSH_S = 0.1


class HeartbeatBatcher:
    def __init__(self) -> None:
        self.pending: dict[object, list[asyncio.Future]] = {}
        self.task: asyncio.Task | None = None

    async def beat(self, session_id) -> bool:
        """Record a heartbeat; True if the session was live and within its timeout."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.setdefault(session_id, []).append(future)
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._flush_forever())
        return await future

    async def _flush_forever(self) -> None:
        while self.pending:
            await asyncio.sleep(FLUSH_S)  # let a tick's worth of heartbeats gather
            batch, self.pending = self.pending, {}
            try:
                alive = await db_priority(services.game_sessions_heartbeat)(
                    session_ids=list(batch), now=timezone.now()
                )
            except Exception as exc:  # noqa: BLE001 - handed to every waiting socket
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for session_id, futures in batch.items():
                for future in futures:
                    if not future.done():
                        future.set_result(session_id in alive)


_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def batcher() -> HeartbeatBatcher:
    """The batcher of the running event loop (tests run one loop per test)."""
    loop = asyncio.get_running_loop()
    found = _batchers.get(loop)
    if found is None:
        found = _batchers[loop] = HeartbeatBatcher()
    return found
