"""Tests against the real Patroni cluster (leader, synchronous streaming replica, etcd,
PgBouncer) that scripts/cluster_test.sh starts: `make cluster-test`.

They use the cluster's real database as it is (migrated by the script): no test_ copy,
no wrapping transaction, no flush. Every test makes its own players and checks only them,
plus the ledger invariants, which hold for the whole database.
"""

from __future__ import annotations

import os

import pytest

CLUSTER = bool(os.environ.get("CLUSTER_DIR"))


def pytest_collection_modifyitems(config, items):
    if CLUSTER:
        return
    skip = pytest.mark.skip(reason="needs the Patroni cluster: run `make cluster-test`")
    for item in items:
        if "/tests/cluster/" in str(item.path):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def django_db_setup():
    """The cluster script created and migrated the database; use it as it is."""


@pytest.fixture(autouse=True)
def _cluster_db(django_db_blocker):
    from wallet import ledger

    with django_db_blocker.unblock():
        ledger._system_cache.clear()
        ledger._player_ids_cache.clear()
        yield
        from django.db import connections

        for conn in connections.all():
            conn.close()


@pytest.fixture(scope="session", autouse=True)
def _healthy_cluster():
    if not CLUSTER:
        yield
        return
    from tests.cluster import harness

    harness.wait_healthy(180)
    yield
