from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from tests.factories import make_player

# A fixed Wednesday noon: every test passes the clock in, none sleeps.
T0 = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _clear_register_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def player(db):
    """A player with 100.00 USD."""
    return make_player(funds={"USD": 10_000})
