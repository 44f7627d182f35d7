"""Failover without losing acknowledged money (seed 002, "Failover Without Data Loss").

Money moves through the API (ASGI process -> PgBouncer -> leader) from client threads
that keep a journal and retry each operation with the same Idempotency-Key until it is
acknowledged. The leader is SIGKILLed (Patroni and every PostgreSQL process); Patroni
promotes the synchronous standby; the same app process goes on by itself (PgBouncer is
re-pointed by the on_role_change callback). Then every acknowledged operation must be in
the books exactly once, the ledger must reconcile, and the old leader must come back as a
replica through pg_rewind, never as a second primary.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
from django.utils import timezone

from reconciliation.checks import run_checks
from tests.cluster import harness as h
from tests.e2e.procs import running, start_asgi, wait_for
from tests.factories import balances, fund_player, make_player, make_token
from wallet.models import Deposit, Transaction, Withdrawal

pytestmark = pytest.mark.e2e

START_FUNDS = 1_000_000  # 10,000.00 USD per player: withdrawals never run out
DEPOSIT, WITHDRAWAL = 500, 100


@dataclass
class Op:
    kind: str
    player_id: int
    key: str
    ptid: str = ""
    object_id: str | None = None
    acked_at: float | None = None
    attempts: int = 0


@dataclass
class Journal:
    ops: list[Op] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: Op) -> None:
        with self.lock:
            self.ops.append(op)


RETRYABLE = {500, 502, 503, 504, 409}


def _until_ok(send, expected: int, deadline: float, op: Op, journal: Journal):
    while time.monotonic() < deadline:
        op.attempts += 1
        try:
            resp = send()
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if resp.status_code == expected:
            return resp
        if resp.status_code not in RETRYABLE:
            journal.errors.append(f"{op.kind} {op.key}: {resp.status_code} {resp.text[:200]}")
            return None
        time.sleep(0.2)
    return None


def _client_loop(base: str, player, journal: Journal, stop: threading.Event, i: int):
    token = make_token(player)
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=20) as c:
        n = 0
        while not stop.is_set():
            n += 1
            # Each op gets 45 s to be acknowledged: far longer than the failover here.
            deadline = time.monotonic() + 45
            if (n + i) % 2:
                op = Op("deposit", player.pk, uuid.uuid4().hex, ptid=f"psp-{uuid.uuid4().hex}")
                journal.add(op)
                created = _until_ok(lambda op=op: c.post(
                    f"{base}/api/v1/payments/deposits/",
                    json={"amount": "5.00", "currency": "USD", "provider": "sandbox"},
                    headers={"Idempotency-Key": op.key}), 201, deadline, op, journal)
                if created is None:
                    continue
                op.object_id = created.json()["id"]
                hook = _until_ok(lambda op=op: h.webhook(c, base, {
                    "event": "deposit.succeeded", "provider_transaction_id": op.ptid,
                    "reference": op.object_id, "amount": "5.00", "currency": "USD"}),
                    200, deadline, op, journal)
                if hook is not None and hook.json().get("outcome") == "applied":
                    op.acked_at = time.monotonic()
            else:
                op = Op("withdrawal", player.pk, uuid.uuid4().hex)
                journal.add(op)
                resp = _until_ok(lambda op=op: c.post(
                    f"{base}/api/v1/payments/withdrawals/",
                    json={"amount": "1.00", "currency": "USD", "destination": "acct-ha"},
                    headers={"Idempotency-Key": op.key}), 201, deadline, op, journal)
                if resp is not None:
                    op.object_id = resp.json()["id"]
                    op.acked_at = time.monotonic()


class PrimaryWatch(threading.Thread):
    """Polls both nodes; records any instant at which both accept writes."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.both_primary: list[float] = []
        self.primary_seen: dict[int, list[float]] = {1: [], 2: []}

    def run(self):
        while not self.stop.is_set():
            now = time.monotonic()  # when the look started: a node answers as it was then
            rw = {n: h.in_recovery(n) is False for n in (1, 2)}
            for n in (1, 2):
                if rw[n]:
                    self.primary_seen[n].append(now)
            if rw[1] and rw[2]:
                self.both_primary.append(now)
            time.sleep(0.1)


def test_leader_sigkill_loses_no_acknowledged_money_operation():
    old, new = h.wait_healthy()
    timeline_before = h.timeline(old)
    players = [make_player() for _ in range(4)]
    for p in players:
        fund_player(p, START_FUNDS)
    app, base = start_asgi(h.app_env())
    journal = Journal()
    stop = threading.Event()
    watch = PrimaryWatch()
    watch.start()
    threads = [threading.Thread(target=_client_loop, args=(base, p, journal, stop, i))
               for i, p in enumerate(players)]
    with running(app):
        for t in threads:
            t.start()
        wait_for(lambda: sum(1 for o in journal.ops if o.acked_at) >= 12, 60)

        # Make the crash leave WAL on the leader that the standby never received (a commit
        # in flight), so the old leader can only come back through pg_rewind.
        walrcv = h.sql(new, "SELECT pid FROM pg_stat_wal_receiver")[0][0]
        os.kill(walrcv, signal.SIGSTOP)
        try:
            time.sleep(0.5)
            killed_at = time.monotonic()
            h.kill_node(old)
            dead_at = time.monotonic()
        finally:
            os.kill(walrcv, signal.SIGCONT)

        wait_for(lambda: h.is_primary_role(h.role(new)), 60, 0.1)
        promoted_at = time.monotonic()
        # Keep going until the same app process has acknowledged a dozen more operations.
        wait_for(lambda: sum(1 for o in journal.ops if o.acked_at and o.acked_at > promoted_at)
                 >= 12, 120)
        first_ack = min(o.acked_at for o in journal.ops if o.acked_at and o.acked_at > killed_at)
        stop.set()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads)

    print(f"\nfailover: promoted {promoted_at - killed_at:.1f}s after the SIGKILL, first "
          f"acknowledged operation {first_ack - killed_at:.1f}s after it; "
          f"{len(journal.ops)} operations, "
          f"{sum(o.attempts for o in journal.ops) - len(journal.ops)} retries")
    assert journal.errors == []
    unacked = [o for o in journal.ops if not o.acked_at]
    # An operation cut off by the crash is settled by its retry (same key): the key's record
    # commits with the effect, so it is either on the new primary (replayed) or not at all
    # (run once). A key left "in progress" would block the retry: the client gives up.
    assert unacked == [], f"{len(unacked)} operations were never acknowledged"

    # Every acknowledged operation is in the books exactly once; an unacknowledged one at
    # most once; and the balances are exactly what those rows add up to.
    for p in players:
        mine = [o for o in journal.ops if o.player_id == p.pk]
        deposits = [o for o in mine if o.kind == "deposit" and o.acked_at]
        withdrawals = [o for o in mine if o.kind == "withdrawal" and o.acked_at]
        open_ops = {k: sum(1 for o in mine if o.kind == k and not o.acked_at)
                    for k in ("deposit", "withdrawal")}
        succeeded = set(map(str, Deposit.objects.filter(player=p, status="succeeded")
                            .values_list("pk", flat=True)))
        assert {o.object_id for o in deposits} <= succeeded
        assert len(succeeded) - len(deposits) <= open_ops["deposit"]
        for did in succeeded:
            assert Transaction.objects.filter(reference=f"deposit:{did}").count() == 1
        rows = set(map(str, Withdrawal.objects.filter(player=p).values_list("pk", flat=True)))
        assert {o.object_id for o in withdrawals} <= rows
        assert len(rows) - len(withdrawals) <= open_ops["withdrawal"]
        assert balances(p) == {
            "cash": START_FUNDS + DEPOSIT * len(succeeded) - WITHDRAWAL * len(rows),
            "reserved": WITHDRAWAL * len(rows), "bonus": 0}
    assert run_checks(now=timezone.now()) == []

    # The old leader rejoins as a replica of the new timeline, rewound, never a primary.
    rejoin_from = time.monotonic()
    h.start_node(old)
    wait_for(lambda: h.role(old) == "replica" and h.sync_streaming(new), 180, 0.5)
    time.sleep(2)
    watch.stop.set()
    watch.join(5)
    assert watch.both_primary == []
    assert [round(t - dead_at, 2) for t in watch.primary_seen[old] if t > dead_at] == []
    assert h.in_recovery(old) is True
    assert h.timeline(old) == h.timeline(new) > timeline_before
    log = h.patroni_log(old)
    assert "pg_rewind" in log, log[-3000:]
    print(f"old leader back as synchronous replica {time.monotonic() - rejoin_from:.1f}s "
          "after its restart")


def test_a_replica_lagging_past_maximum_lag_on_failover_is_never_promoted():
    lead, rep = h.wait_healthy()
    # In synchronous mode a standby that stops receiving WAL stalls every commit and is
    # not promotable anyway; the byte limit guards asynchronous standbys: switch to one.
    h.patroni_config_patch(lead, {"synchronous_mode": False})
    wait_for(lambda: h.sql(lead, "SHOW synchronous_standby_names")[0][0] == "", 30)
    walrcv = h.sql(rep, "SELECT pid FROM pg_stat_wal_receiver")[0][0]
    os.kill(walrcv, signal.SIGSTOP)
    try:
        # Several MiB of WAL the standby will not receive (the limit is 1 MiB).
        h.sql(lead, "CREATE TABLE IF NOT EXISTS ha_lag_probe (payload text)")
        h.sql(lead, "INSERT INTO ha_lag_probe SELECT repeat(md5(g::text), 40) "
                    "FROM generate_series(1, 5000) g")

        def reported_lag():
            members = httpx.get(f"http://127.0.0.1:{h.API_PORT[lead]}/cluster",
                                timeout=2).json()["members"]
            lag = next(m.get("lag") for m in members if m["name"] == f"node{rep}")
            return isinstance(lag, int) and lag > 1_048_576

        wait_for(reported_lag, 30, 0.5)  # the leader published its position to etcd
        h.kill_node(lead)
        # Three times the leader TTL: the lagging standby must stay a standby throughout.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert not h.is_primary_role(h.role(rep))
            assert h.in_recovery(rep) is not False
            time.sleep(0.5)
        assert "exceeds maximum replication lag" in h.patroni_log(rep)
    finally:
        os.kill(walrcv, signal.SIGCONT)
        h.start_node(lead)
        wait_for(lambda: h.is_primary_role(h.role(lead)), 120, 0.5)
        h.patroni_config_patch(lead, {"synchronous_mode": True})
        h.sql(lead, "DROP TABLE IF EXISTS ha_lag_probe")
        h.wait_healthy(180)
