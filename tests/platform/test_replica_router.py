"""The routing rule, on the single local database with the replica's measurements faked.

The same rule against a real streaming replica (paused replay, a replica that is down, a
failover) is proven in tests/cluster (make cluster-test).
"""

import pytest
from django.db import transaction
from django.test import RequestFactory
from django.urls import resolve

from common import replica
from common.replica import lagging_reads
from config import db_router
from config.db_router import PrimaryReplicaRouter, read_alias, view_purpose
from reconciliation.models import PlayerSummary
from wallet.models import Account, Entry

pytestmark = pytest.mark.django_db(transaction=True)


def _status(*, lag_bytes=0, lag_s=0.0, replay_lsn=1000):
    return replica.ReplicaStatus(True, replay_lsn, replay_lsn, replay_lsn + lag_bytes,
                                 lag_bytes, lag_s, False)


@pytest.fixture
def with_replica(settings, monkeypatch):
    settings.DATABASES = {**settings.DATABASES, "replica": dict(settings.DATABASES["default"])}
    settings.REPLICA_MAX_LAG_S = 5
    settings.REPLICA_CHECK_INTERVAL_S = 0  # re-measure on every call in these tests
    state = {"status": _status()}
    monkeypatch.setattr(replica, "replica_status", lambda: state["status"])
    token = replica.current_player_id.set(None)
    yield state
    replica.current_player_id.reset(token)


def _route(model):
    return PrimaryReplicaRouter().db_for_read(model)


def test_without_a_replica_everything_reads_the_primary():
    assert _route(PlayerSummary) == "default"
    with lagging_reads("audit_export"):
        assert _route(Entry) == "default"
    assert read_alias("reconciliation_scan") == "default"


def test_money_never_reads_the_replica(with_replica):
    assert _route(Account) == "default"
    assert _route(Entry) == "default"
    assert _route(PlayerSummary) == "replica"


def test_lagging_reads_use_the_replica_outside_transactions_only(with_replica):
    with lagging_reads("history"):
        assert _route(Entry) == "replica"
        with transaction.atomic():
            # A decision inside a transaction reads locked rows on the primary, always.
            assert _route(Entry) == "default"
            assert _route(PlayerSummary) == "default"


def test_identity_never_reads_the_replica(with_replica):
    from users.models import AuthToken, User

    with lagging_reads("backoffice_list"):
        assert _route(User) == "default"
        assert _route(AuthToken) == "default"


def test_unknown_purpose_is_refused(with_replica):
    with lagging_reads("balance"), pytest.raises(ValueError):
        _route(Entry)
    with pytest.raises(ValueError):
        read_alias("withdrawal_status")
    with pytest.raises(ValueError):
        PrimaryReplicaRouter().db_for_read(Entry, purpose="kyc_gate")


def test_a_lagging_or_unreachable_replica_is_skipped(with_replica):
    with_replica["status"] = _status(lag_bytes=4096, lag_s=30.0)
    assert _route(PlayerSummary) == "default"
    with_replica["status"] = None  # down
    assert _route(PlayerSummary) == "default"
    with_replica["status"] = _status(lag_bytes=4096, lag_s=0.5)
    assert _route(PlayerSummary) == "replica"


def test_a_pin_holds_until_the_replica_replays_past_the_write(with_replica):
    replica._pins().delete(replica._pin_key(41), replica._pin_key(42))
    with transaction.atomic():
        transaction.on_commit(lambda: replica.pin_to_primary([42]))
    pin = replica.pinned_lsn(42)
    assert pin is not None and pin != replica.UNKNOWN_LSN
    replica.current_player_id.set(42)
    with_replica["status"] = _status(replay_lsn=pin - 1)
    assert _route(PlayerSummary) == "default"
    replica.current_player_id.set(41)
    assert _route(PlayerSummary) == "replica"
    replica.current_player_id.set(42)
    with_replica["status"] = _status(replay_lsn=pin)
    assert _route(PlayerSummary) == "replica"
    replica._pins().delete(replica._pin_key(42))


def test_a_pin_never_moves_backwards(with_replica):
    key = replica._pin_key(43)
    replica._pins().set(key, 10**12)
    replica.pin_to_primary([43])  # the local WAL position is far below 10**12
    assert replica.pinned_lsn(43) == 10**12
    replica._pins().delete(key)


def test_a_ledger_write_pins_the_player_after_commit(with_replica):
    from tests.factories import fund_player, make_player

    player = make_player()
    replica._pins().delete(replica._pin_key(player.pk))
    fund_player(player, 100)
    pin = replica.pinned_lsn(player.pk)
    assert pin is not None
    replica.current_player_id.set(player.pk)
    with_replica["status"] = _status(replay_lsn=pin - 1)
    assert _route(PlayerSummary) == "default"
    with_replica["status"] = _status(replay_lsn=pin + 1)
    assert _route(PlayerSummary) == "replica"
    replica._pins().delete(replica._pin_key(player.pk))


@pytest.mark.parametrize(("method", "path", "purpose"), [
    ("GET", "/api/v1/wallets/transactions/", "history"),
    ("GET", "/api/v1/betting/bets/", "history"),
    ("POST", "/api/v1/betting/bets/", None),
    ("GET", "/api/v1/wallets/", None),
    ("GET", "/api/v1/payments/withdrawals/00000000-0000-0000-0000-000000000001/", None),
    ("GET", "/api/v1/kyc/", None),
    ("GET", "/admin/wallet/withdrawal/", "backoffice_list"),
    ("POST", "/admin/wallet/withdrawal/", None),
    ("GET", "/admin/dashboard/", "dashboard"),
])
def test_views_opt_in_by_url_name(method, path, purpose):
    request = getattr(RequestFactory(), method.lower())(path)
    request.resolver_match = resolve(path)
    if request.resolver_match.view_name == "admin:None":
        pytest.fail(f"{path} did not resolve to a named admin view")
    assert view_purpose(request) == purpose


def test_every_lagging_view_name_exists():
    from django.urls import get_resolver

    known = set()
    resolver = get_resolver()
    for ns, (_, sub) in resolver.namespace_dict.items():
        known |= {f"{ns}:{n}" for n in sub.reverse_dict if isinstance(n, str)}
    known |= {n for n in resolver.reverse_dict if isinstance(n, str)}
    assert set(db_router.LAGGING_VIEWS) <= known
