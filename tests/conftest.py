import pytest
from rest_framework.test import APIClient

from tests.factories import make_player, make_staff


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def player(db):
    return make_player()


@pytest.fixture
def player_api(player):
    client = APIClient()
    client.force_authenticate(player)
    return client


@pytest.fixture
def make_api():
    def _make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return _make


@pytest.fixture
def staff_factory(db):
    return make_staff


@pytest.fixture(autouse=True)
def _fresh_system_account_cache():
    # Transactional tests truncate tables; a cached system account id would dangle.
    from wallet import ledger

    ledger._system_cache.clear()
    ledger._player_ids_cache.clear()
    yield
    ledger._system_cache.clear()
    ledger._player_ids_cache.clear()
