"""Reads that may use a replica do so only while it keeps up and the player has not just written."""

import pytest

from common import replica
from config.db_router import PrimaryReplicaRouter
from reconciliation.models import PlayerSummary
from wallet.models import Account

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_replica(settings, monkeypatch):
    settings.DATABASES = {**settings.DATABASES, "replica": dict(settings.DATABASES["default"])}
    settings.REPLICA_MAX_LAG_S = 5
    lag = {"s": 0.2}
    monkeypatch.setattr(replica, "replica_lag_seconds", lambda: lag["s"])
    replica._lag_cache.update(checked_at=0.0, lag_s=0.0)
    token = replica.current_player_id.set(None)
    yield lag
    replica.current_player_id.reset(token)


def _route(model):
    replica._lag_cache["checked_at"] = 0.0  # re-measure the lag on every call in the test
    return PrimaryReplicaRouter().db_for_read(model)


def test_without_a_replica_everything_reads_the_primary():
    assert _route(PlayerSummary) == "default"


def test_money_never_reads_the_replica(with_replica):
    assert _route(Account) == "default"
    assert _route(PlayerSummary) == "replica"


def test_a_lagging_replica_is_skipped(with_replica):
    with_replica["s"] = 30.0
    assert _route(PlayerSummary) == "default"
    with_replica["s"] = 0.5
    assert _route(PlayerSummary) == "replica"


def test_a_player_reads_their_own_writes_from_the_primary(with_replica):
    from django.core.cache import cache

    cache.delete_many(["replica-pin:41", "replica-pin:42"])
    replica.pin_to_primary([42])
    replica.current_player_id.set(42)
    assert _route(PlayerSummary) == "default"
    replica.current_player_id.set(41)
    assert _route(PlayerSummary) == "replica"
    cache.delete("replica-pin:42")


def test_a_ledger_write_pins_the_player_after_commit(with_replica, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from tests.factories import fund_player, make_player

    player = make_player()
    cache.delete(f"replica-pin:{player.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        fund_player(player, 100)
    replica.current_player_id.set(player.pk)
    assert _route(PlayerSummary) == "default"
    cache.delete(f"replica-pin:{player.pk}")
    assert _route(PlayerSummary) == "replica"
