"""Seed 002 against a real streaming replica: stale reads never decide money.

Replay on the standby is paused with pg_wal_replay_pause(), so it really is behind; the
app runs as separate ASGI processes with DATABASE_URL on PgBouncer and
REPLICA_DATABASE_URL on the standby, exactly as deployed.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from django.db import connections
from django.utils import timezone

from common import replica
from config.db_router import read_alias
from reconciliation.checks import run_checks
from reconciliation.models import Alert
from reconciliation.monitoring import lag_monitor
from tests.cluster import harness as h
from tests.e2e.procs import running, start_asgi, wait_for
from tests.factories import balances, fund_player, make_player, make_token
from wallet.models import Withdrawal
from wallet.services import withdrawal_request

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def apps():
    """Two app processes (two hosts behind a load balancer, say)."""
    env = h.app_env(REPLICA_MAX_LAG_S="600", REPLICA_CHECK_INTERVAL_S="0.2")
    a, base_a = start_asgi(env)
    b, base_b = start_asgi(env)
    with running(a, b):
        yield base_a, base_b


@pytest.fixture
def paused():
    """The standby with replay paused; resumed (and caught up) afterwards."""
    lead, rep = h.wait_healthy()
    h.pause_replay(rep)
    try:
        yield lead, rep
    finally:
        h.resume_replay(rep)
        wait_for(lambda: h.replayed_up_to_primary(rep, lead), 60)


def _client(player) -> httpx.Client:
    token = make_token(player)
    return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _on_replica(rep: int, query: str, params) -> list:
    return h.sql(rep, query, params)


def test_a_deposit_then_an_immediate_balance_read_shows_it(apps, paused):
    base, _ = apps
    lead, rep = paused
    player = make_player()
    with _client(player) as c:
        created = c.post(f"{base}/api/v1/payments/deposits/",
                         json={"amount": "40.00", "currency": "USD", "provider": "sandbox"},
                         headers={"Idempotency-Key": h.key()})
        assert created.status_code == 201, created.text
        hook = h.webhook(c, base, {
            "event": "deposit.succeeded", "provider_transaction_id": f"psp-{uuid.uuid4().hex}",
            "reference": created.json()["id"], "amount": "40.00", "currency": "USD"})
        assert hook.status_code == 200, hook.text

        # The standby really is behind: it has not even seen the player's accounts.
        assert _on_replica(rep, "SELECT count(*) FROM wallet_account WHERE owner_id = %s",
                           [player.pk]) == [(0,)]
        wallet = c.get(f"{base}/api/v1/wallets/").json()
        assert [(w["currency"], w["available"]) for w in wallet] == [("USD", "40.00")]
        # History may lag, but not for the player who just wrote: pinned by LSN.
        history = c.get(f"{base}/api/v1/wallets/transactions/").json()["results"]
        assert [(e["kind"], e["amount"]) for e in history] == [("deposit", "40.00")]


def test_history_of_a_player_who_did_not_just_write_comes_from_the_replica(apps, paused):
    base, _ = apps
    lead, rep = paused
    player = make_player()
    fund_player(player, 1_000)  # committed after the pause: the standby has not replayed it
    replica._pins().delete(replica._pin_key(player.pk))  # as if the pin had been released
    with _client(player) as c:
        # Lag-tolerant, unpinned: read from the standby, which does not have the entry yet.
        assert c.get(f"{base}/api/v1/wallets/transactions/").json()["results"] == []
        # The balance is a money read: primary, always.
        assert c.get(f"{base}/api/v1/wallets/").json()[0]["available"] == "10.00"


def test_a_withdrawal_created_while_the_replica_is_paused_cannot_be_repeated(apps, paused):
    base_a, base_b = apps
    lead, rep = paused
    player = make_player()
    fund_player(player, 10_000)
    first_key = h.key()
    body = {"amount": "100.00", "currency": "USD", "destination": "acct-1"}
    with _client(player) as c:
        first = c.post(f"{base_a}/api/v1/payments/withdrawals/", json=body,
                       headers={"Idempotency-Key": first_key})
        assert first.status_code == 201, first.text
        # Another process, another key: the funds are already reserved on the primary.
        again = c.post(f"{base_b}/api/v1/payments/withdrawals/", json=body,
                       headers={"Idempotency-Key": h.key()})
        assert again.status_code == 422 and again.json()["code"] == "insufficient_funds"
        # The same request retried through the other process is the same withdrawal.
        retry = c.post(f"{base_b}/api/v1/payments/withdrawals/", json=body,
                       headers={"Idempotency-Key": first_key})
        assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
        assert retry.json()["id"] == first.json()["id"]
        status = c.get(f"{base_b}/api/v1/payments/withdrawals/{first.json()['id']}/").json()
        assert status["status"] == "requested"
    # The standby still shows the money as available and no withdrawal at all.
    assert _on_replica(rep, "SELECT count(*) FROM wallet_withdrawal WHERE player_id = %s",
                       [player.pk]) == [(0,)]
    assert Withdrawal.objects.filter(player=player).count() == 1
    assert balances(player) == {"cash": 0, "reserved": 10_000, "bonus": 0}


def test_the_lag_alert_fires_and_clears(settings, paused):
    lead, rep = paused
    settings.REPLICA_MAX_LAG_S = 2
    settings.LAG_REPLICA_S = 2
    settings.REPLICA_CHECK_INTERVAL_S = 0
    Alert.objects.filter(name="replica_lag", cleared_at__isnull=True).update(
        cleared_at=timezone.now())
    fund_player(make_player(), 500)  # WAL the paused standby will not replay
    wait_for(lambda: (replica.replica_lag_seconds() or 0) > 2, 30)
    status = replica.replica_status()
    assert status.paused and status.lag_bytes > 0

    lag_monitor(now=timezone.now())
    alert = Alert.objects.get(name="replica_lag", cleared_at__isnull=True)
    assert alert.value > 2 and alert.threshold == 2
    assert read_alias("audit_export") == "default"  # reads fell back to the primary

    h.resume_replay(rep)
    wait_for(lambda: replica.replica_lag_seconds() == 0.0, 60)
    lag_monitor(now=timezone.now())
    assert not Alert.objects.filter(name="replica_lag", cleared_at__isnull=True).exists()
    assert Alert.objects.get(pk=alert.pk).cleared_at is not None
    assert read_alias("audit_export") == "replica"


def _count_queries(alias: str):
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    return seen, connections[alias].execute_wrapper(wrapper)


def test_reconciliation_scans_read_the_replica_and_fall_back_to_the_primary(settings):
    h.wait_healthy()
    fund_player(make_player(), 700)
    settings.REPLICA_CHECK_INTERVAL_S = 0
    lead, rep = h.wait_healthy()
    wait_for(lambda: h.replayed_up_to_primary(rep, lead), 60)

    on_replica, wrap_r = _count_queries("replica")
    on_primary, wrap_p = _count_queries("default")
    with wrap_r, wrap_p:
        findings = run_checks(now=timezone.now())
    assert findings == []
    assert any("wallet_entry" in q for q in on_replica)
    assert not any("wallet_entry" in q for q in on_primary)

    settings.REPLICA_MAX_LAG_S = -1  # every replica is "too far behind": the primary serves
    on_replica, wrap_r = _count_queries("replica")
    on_primary, wrap_p = _count_queries("default")
    with wrap_r, wrap_p:
        assert run_checks(now=timezone.now()) == []
    assert any("wallet_entry" in q for q in on_primary)
    assert not any("wallet_entry" in q for q in on_replica)


def test_a_replica_that_is_down_does_not_stop_money(apps):
    base, _ = apps
    lead, rep = h.wait_healthy()
    player = make_player()
    h.kill_node(rep)
    try:
        started = time.monotonic()
        with _client(player) as c:
            created = c.post(f"{base}/api/v1/payments/deposits/",
                             json={"amount": "30.00", "currency": "USD", "provider": "sandbox"},
                             headers={"Idempotency-Key": h.key()})
            assert created.status_code == 201, created.text
            hook = h.webhook(c, base, {
                "event": "deposit.succeeded",
                "provider_transaction_id": f"psp-{uuid.uuid4().hex}",
                "reference": created.json()["id"], "amount": "30.00", "currency": "USD"})
            assert hook.status_code == 200, hook.text
            wd = c.post(f"{base}/api/v1/payments/withdrawals/",
                        json={"amount": "10.00", "currency": "USD", "destination": "acct-9"},
                        headers={"Idempotency-Key": h.key()})
            assert wd.status_code == 201, wd.text
            elapsed = time.monotonic() - started
            # Lag-tolerant reads fall back to the primary while the standby is gone.
            history = c.get(f"{base}/api/v1/wallets/transactions/")
            assert history.status_code == 200
            assert len(history.json()["results"]) == 3
        assert balances(player) == {"cash": 2_000, "reserved": 1_000, "bonus": 0}
        assert replica.replica_lag_seconds() in (None, 0.0)
        # Money kept moving: the leader stopped waiting for the vanished standby.
        print(f"\nthree money operations with the standby down took {elapsed:.1f}s")
        assert elapsed < 30
    finally:
        h.start_node(rep)
        h.wait_healthy(180)


def test_backoffice_lists_and_the_dashboard_read_the_replica_and_decisions_do_not(settings):
    from backoffice.roles import roles_sync
    from tests.backoffice.conftest import verified_client
    from tests.factories import make_staff

    settings.REPLICA_CHECK_INTERVAL_S = 0
    roles_sync()
    staff = make_staff("administrator")
    client = verified_client(staff)
    player = make_player()
    fund_player(player, 5_000)
    withdrawal = withdrawal_request(player=player, amount=1_000, currency="USD",
                                    destination="acct-bo", now=timezone.now())
    lead, rep = h.wait_healthy()
    wait_for(lambda: h.replayed_up_to_primary(rep, lead), 60)

    def pages(path):
        on_replica, wrap_r = _count_queries("replica")
        on_primary, wrap_p = _count_queries("default")
        with wrap_r, wrap_p:
            resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        return on_replica, on_primary

    on_replica, on_primary = pages("/admin/wallet/withdrawal/")
    assert any("wallet_withdrawal" in q for q in on_replica)
    assert not any("wallet_withdrawal" in q for q in on_primary)
    # Who is asking (session, user, TOTP device) is read on the primary.
    assert any("django_session" in q for q in on_primary)
    assert not any("django_session" in q or "otp_totp" in q for q in on_replica)

    on_replica, on_primary = pages("/admin/dashboard/")
    assert on_replica, "the dashboard read nothing from the replica"

    # The change form, where staff decide, reads the primary.
    on_replica, on_primary = pages(f"/admin/wallet/withdrawal/{withdrawal.pk}/change/")
    assert not any("wallet_withdrawal" in q for q in on_replica)
    assert any("wallet_withdrawal" in q for q in on_primary)
