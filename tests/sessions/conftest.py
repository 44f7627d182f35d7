import pytest
from asgiref.sync import SyncToAsync
from django.db import connections

from sessions.db import close_connections


@pytest.fixture(autouse=True)
def _close_socket_db_connections():
    """The socket DB threads keep their connections open on purpose (no reconnect per
    heartbeat). Close them after each test so the test database can be flushed and dropped."""
    yield
    close_connections()
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def player(db):
    from tests.factories import make_player

    return make_player(funds={"USD": 10_000})
