"""Connection pools across fork(): a child process must never use its parent's sockets.

Django keeps one psycopg pool per database alias per process, on the backend class. A
process forked after the pool opened (multiprocessing, a Celery prefork child, a bench
worker) inherits the pool object with the parent's open sockets and none of its threads.
After a fork the child forgets the inherited pools, so its first query opens a pool of its
own. The inherited objects are kept referenced and never closed: closing them (or letting
the collector finalise them) would terminate the parent's sessions on those sockets.
"""

from __future__ import annotations

import os

from django.db.backends.postgresql.base import DatabaseWrapper

_inherited: list[dict] = []


def _forget_inherited_pools() -> None:
    pools = DatabaseWrapper._connection_pools  # type: ignore[attr-defined]  # private, no stub
    if pools:
        _inherited.append(dict(pools))
        pools.clear()


def install_fork_guard() -> None:
    os.register_at_fork(after_in_child=_forget_inherited_pools)
