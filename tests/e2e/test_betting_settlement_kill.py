"""Market settlement under a real crash: a Celery worker's pool child is SIGKILLed while it
settles a market's bets; the broker redelivers the (acks_late) task and every bet ends up
settled exactly once, with balances and the ledger exact."""

from __future__ import annotations

import os
import shutil
import signal
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.db import connections, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from betting import services
from betting.models import Bet
from betting.services import LegRequest
from events.models import OutboxEvent
from tests.betting.conftest import make_market, selections_of
from tests.e2e.procs import PrivateRedis, service_env, start_worker, stop, wait_for
from tests.factories import balances, make_player
from wallet.models import Account, Entry, Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PLAYERS = 8
BETS = 400
LOCKED_AT = 150  # the worker stops at the 151st bet (in settlement order) with 150 settled
BATCH = 50  # bets per settlement transaction: LOCKED_AT is the first bet of the fourth batch
FUNDS = 200_000


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _dsn() -> str:
    db = connections["default"].settings_dict
    return (f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} "
            f"user={db['USER'] or 'postgres'} dbname={db['NAME']}")


def _waiting_on_bet_lock() -> set[int]:
    """Backend pids blocked on a lock while touching the bets table."""
    with connections["default"].cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%%betting_bet%%'")
        return {row[0] for row in cur.fetchall()}


def _settled() -> int:
    return Bet.objects.exclude(status="open").count()


def _broker_idle(port: int) -> bool:
    import redis as redis_lib

    client = redis_lib.Redis(port=port)
    # Nothing queued and nothing delivered-but-unacknowledged (kombu's "unacked" hash).
    return client.llen("celery") == 0 and client.hlen("unacked") == 0


def _place_bets(market):
    """BETS singles from PLAYERS players, half on each selection, at two prices of each."""
    home, away = selections_of(market)
    players = [make_player(funds={"USD": FUNDS}) for _ in range(PLAYERS)]
    placed = []  # (bet, player, selection_id, accepted odds, stake)
    prices = {home.pk: home.odds, away.pk: away.odds}
    for i in range(BETS):
        if i == BETS // 2:
            # Later bets are accepted at new prices; each is paid at its own accepted odds.
            for pk, odds in ((home.pk, "2.375"), (away.pk, "1.615")):
                services.selection_odds_update(selection_id=pk, odds=Decimal(odds), actor=None,
                                               now=timezone.now())
                prices[pk] = Decimal(odds)
        player = players[i % PLAYERS]
        sel = home.pk if i % 2 else away.pk
        stake = 101 + (i * 37) % 900
        bet = services.bet_place(player=player, legs=[LegRequest(sel, prices[sel])], stake=stake,
                                 currency="USD", odds_change="none", now=timezone.now())
        placed.append((bet, player, sel, prices[sel], stake))
    return players, home, placed


def test_worker_child_killed_mid_settlement_redelivers_and_settles_each_bet_once(monkeypatch):
    redis = PrivateRedis()
    redis.start()
    # One task settles the whole market (no chunk fan-out), so one kill hits one run.
    worker = start_worker(service_env(REDIS_URL=redis.url, CELERY_BROKER_URL=redis.url,
                                      BETTING_SETTLEMENT_CHUNK=str(BETS * 10),
                                      BETTING_SETTLEMENT_BATCH=str(BATCH)), name="settlekill")
    holder = None
    try:
        market = make_market([("Home", "3.200"), ("Away", "1.750")])
        players, home, placed = _place_bets(market)

        from betting.tasks import market_settlement_run
        from config.celery import app

        def enqueue_to_private_broker(task, market_id: int) -> None:
            # What services.market_settle queues on commit, addressed to this test's broker.
            assert task == services.SETTLEMENT_TASK

            def send():
                with app.connection_for_write(redis.url) as conn:
                    market_settlement_run.apply_async((market_id,), connection=conn)

            transaction.on_commit(send)

        monkeypatch.setattr(services, "enqueue_on_commit", enqueue_to_private_broker)

        # Hold one bet row in the middle (settlement goes in bet id order) so the worker
        # stops inside the run with exactly LOCKED_AT bets settled.
        order = sorted(bet.pk for bet, *_ in placed)
        locked_id = order[LOCKED_AT]
        holder = psycopg.connect(_dsn())
        holder.execute("SELECT id FROM betting_bet WHERE id = %s FOR UPDATE", [locked_id])

        services.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                               now=timezone.now())
        wait_for(lambda: _settled() == LOCKED_AT and _waiting_on_bet_lock(), 45, 0.2)
        first_run = _waiting_on_bet_lock()
        children = _children(worker.pid)
        assert len(children) == 1  # concurrency 1: the one pool process running the task
        killed = children[0]
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: not _alive(killed), 10, 0.1)
        # The worker survives, replaces its pool process and gets the task back: a new run
        # (a new database session) reaches the held bet while the lock is still held, and
        # nothing past it was settled meanwhile. (The killed run's session may linger, blocked,
        # until the lock goes: the server only notices the dead client when it replies.)
        assert worker.poll() is None
        wait_for(lambda: [c for c in _children(worker.pid) if c != killed], 30, 0.2)
        wait_for(lambda: _waiting_on_bet_lock() - first_run, 30, 0.2)
        assert _settled() == LOCKED_AT
        assert Bet.objects.get(pk=locked_id).status == "open"

        holder.rollback()
        holder.close()
        holder = None

        wait_for(lambda: _settled() == BETS, 45, 0.3)
        wait_for(lambda: _broker_idle(redis.port), 15, 0.3)
        assert worker.poll() is None

        # Every bet settled exactly once, at stake x its accepted odds (rounded down).
        expected_cash = {p.pk: FUNDS for p in players}
        bets = {b.pk: b for b in Bet.objects.all()}
        for bet, player, sel, odds, stake in placed:
            won = sel == home.pk
            payout = stake * int(odds * 1000) // 1000 if won else 0
            settled = bets[bet.pk]
            assert (settled.status, settled.payout, settled.settle_seq) == (
                "won" if won else "lost", payout, 1)
            assert settled.accepted_odds == odds
            expected_cash[player.pk] += payout - stake
        settle_txns = Transaction.objects.filter(kind="bet_settle")
        per_bet = dict(settle_txns.values_list("reference").annotate(n=Count("id")))
        assert per_bet == {f"bet:{pk}": 1 for pk in bets}
        assert set(settle_txns.values_list("dedupe_key", flat=True)) == {
            f"bet:{pk}:settle:1" for pk in bets}
        assert not Transaction.objects.filter(kind="reversal").exists()
        settled_events = OutboxEvent.objects.filter(topic="bet.settled")
        assert settled_events.count() == BETS
        assert set(settled_events.values_list("aggregate_id", flat=True)) == {str(pk) for pk in bets}

        for player in players:
            assert balances(player) == {"cash": expected_cash[player.pk], "reserved": 0,
                                        "bonus": 0}, player.pk
        # The ledger balances: every transaction sums to zero, every player account's
        # balance is the sum of its entries, and the house holds exactly stakes - payouts.
        assert Entry.objects.aggregate(s=Sum("amount"))["s"] == 0
        assert not Entry.objects.values("transaction_id").annotate(s=Sum("amount")).exclude(s=0)
        for account in Account.objects.filter(owner__isnull=False):
            entries = Entry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0
            assert entries == account.balance, account
        house = Entry.objects.filter(account__kind="house").aggregate(s=Sum("amount"))["s"]
        assert house == sum(FUNDS - cash for cash in expected_cash.values())
    finally:
        if holder is not None:
            holder.rollback()
            holder.close()
        stop(worker)
        redis.stop()
        shutil.rmtree(redis.dir, ignore_errors=True)
