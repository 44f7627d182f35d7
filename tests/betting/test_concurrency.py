"""Real threads, each with its own PostgreSQL connection, released together by a barrier."""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from betting import services
from betting.lock_objects import selections_share_lock
from betting.models import Bet, BetLeg, MarketSettlement, Selection
from betting.odds import payout_round_down
from tests.factories import balances, make_player, make_staff
from users.roles import TRADER
from wallet.models import Transaction

from .conftest import make_market, selections_of

pytestmark = pytest.mark.django_db(transaction=True)

BETS = "/api/v1/betting/bets/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def run_threads(targets, *, timeout=60):
    """Start one thread per callable, release them together, re-raise the first error."""
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def wrap(fn):
        def runner():
            try:
                barrier.wait()
                fn()
            except BaseException as exc:  # noqa: BLE001 - surfaced to the test below
                errors.append(exc)
            finally:
                connection.close()
        return runner

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_odds_hammered_while_betting_every_bet_keeps_the_price_it_asked_for():
    """The field report's test: a trader moves the price as fast as they can through the
    backoffice API while a player bets through the player API with policy `none`."""
    player = make_player(funds={"USD": 1_000_000})
    trader = make_staff(TRADER)
    market = make_market([("Home", "3.200"), ("Away", "1.800")])
    home, _ = selections_of(market)
    # Two prices: a stale ask is right again after an even number of moves, so some bets
    # are accepted and some refused however the threads interleave.
    prices = ["3.200", "1.800"]
    attempts = 60
    done = threading.Event()
    accepted: list[tuple[str, str]] = []  # (bet id, odds asked for)
    refusals: list[dict] = []
    updates = [0]

    def trade():
        api = client_for(trader)
        i = 0
        while not done.is_set():
            i += 1
            response = api.patch(f"/api/v1/backoffice/selections/{home.pk}/",
                                 {"odds": prices[i % len(prices)]}, format="json")
            assert response.status_code == 200, response.json()
            updates[0] += 1

    def bet():
        api = client_for(player)
        asked = "3.200"
        try:
            for n in range(attempts):
                response = api.post(BETS, {"selection_id": home.pk, "odds": asked,
                                           "stake": f"{1 + n % 7}.{n % 100:02d}", "currency": "USD",
                                           "odds_change": "none"},
                                    format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
                body = response.json()
                if response.status_code == 201:
                    accepted.append((body["id"], asked))
                    assert body["accepted_odds"] == asked
                else:
                    assert (response.status_code, body["code"]) == (409, "odds_changed"), body
                    refusals.append(body)
                    asked = body["odds"]  # the player re-asks at the price they were shown
        finally:
            done.set()

    run_threads([trade, bet])

    assert updates[0] > 0 and accepted
    assert len(accepted) + len(refusals) == attempts
    assert Bet.objects.count() == len(accepted)
    history = {h.odds_version: h.odds for h in Selection.history.filter(id=home.pk)}
    for bet_id, asked in accepted:
        placed = Bet.objects.get(pk=bet_id)
        leg = BetLeg.objects.get(bet=placed)
        assert placed.accepted_odds == leg.accepted_odds == Decimal(asked)
        # The accepted price is the committed price of the version the bet recorded.
        assert history[leg.odds_version] == leg.accepted_odds

    # After the market moves once more, settlement pays stake x accepted odds.
    services.selection_odds_update(selection_id=home.pk, odds=Decimal("1.010"), actor=None,
                                   now=timezone.now())
    services.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                           now=timezone.now())
    services.market_settlement_process(market_id=market.pk, now=timezone.now())
    total_stake = total_payout = 0
    for bet_id, asked in accepted:
        placed = Bet.objects.get(pk=bet_id)
        assert placed.status == "won"
        assert placed.payout == payout_round_down(placed.stake, Decimal(asked))
        total_stake += placed.stake
        total_payout += placed.payout
    assert balances(player) == {"cash": 1_000_000 - total_stake + total_payout, "reserved": 0,
                                "bonus": 0}


def test_parallel_bets_beyond_the_balance_only_the_affordable_are_accepted():
    player = make_player(funds={"USD": 10_000})  # 100.00
    home, _ = selections_of(make_market())
    results: list[tuple[int, str]] = []

    def bet():
        response = client_for(player).post(
            BETS, {"selection_id": home.pk, "odds": "3.2", "stake": "30.00", "currency": "USD"},
            format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
        results.append((response.status_code, response.json().get("code", "")))

    run_threads([bet] * 8)

    assert sorted(results) == [(201, "")] * 3 + [(422, "insufficient_funds")] * 5
    assert balances(player) == {"cash": 1_000, "reserved": 9_000, "bonus": 0}
    assert Bet.objects.count() == 3
    assert Transaction.objects.filter(kind="bet_stake").count() == 3


def test_concurrent_settlement_runs_and_settle_requests_pay_each_bet_once():
    market = make_market()
    home, _ = selections_of(market)
    players = [make_player(funds={"USD": 2_000}) for _ in range(12)]
    bets = [services.bet_place(player=p, legs=[services.LegRequest(home.pk, Decimal("3.2"))],
                               stake=1_000, currency="USD", odds_change="none", now=timezone.now())
            for p in players]
    trader = make_staff(TRADER)
    changed: list[bool] = []

    def request_settle():
        response = client_for(trader).post(f"/api/v1/backoffice/markets/{market.pk}/settle/",
                                           {"winning_selection_ids": [home.pk]}, format="json")
        assert response.status_code == 202
        changed.append(response.json()["changed"])

    def run():
        # Wait for the result to be committed, then race the other runners.
        while not MarketSettlement.objects.filter(market=market).exists():
            time.sleep(0.01)
        services.market_settlement_process(market_id=market.pk, now=timezone.now())

    run_threads([request_settle] * 3 + [run] * 3)

    assert sorted(changed) == [False, False, True]
    assert MarketSettlement.objects.filter(market=market).count() == 1
    for p, b in zip(players, bets, strict=True):
        assert Transaction.objects.filter(reference=f"bet:{b.pk}", kind="bet_settle").count() == 1
        assert Bet.objects.get(pk=b.pk).payout == 3_200
        assert balances(p) == {"cash": 2_000 - 1_000 + 3_200, "reserved": 0, "bonus": 0}


def _wait_until_blocked(pid_holder, timeout=10.0):
    deadline = time.monotonic() + timeout
    with connection.cursor() as cur:
        while time.monotonic() < deadline:
            if pid_holder:
                cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                            [pid_holder[0]])
                row = cur.fetchone()
                if row and row[0] == "Lock":
                    return
            time.sleep(0.01)
    raise AssertionError("the other transaction never waited for the lock")


def test_odds_update_waits_for_a_bet_being_priced():
    home, _ = selections_of(make_market())
    with transaction.atomic():
        selections_share_lock([home.pk])  # a bet is being priced on this selection
        errors = []

        def update():
            try:
                with connection.cursor() as cur:
                    cur.execute("SET lock_timeout = '200ms'")
                services.selection_odds_update(selection_id=home.pk, odds=Decimal("1.8"),
                                               actor=None, now=timezone.now())
            except OperationalError as exc:
                errors.append(exc)
            finally:
                connection.close()

        t = threading.Thread(target=update)
        t.start()
        t.join(10)
        assert errors and "lock timeout" in str(errors[0])
    assert Selection.objects.get(pk=home.pk).odds_version == 1


def test_bet_waits_for_a_price_change_in_flight_and_sees_the_new_price():
    player = make_player(funds={"USD": 10_000})
    home, _ = selections_of(make_market())
    outcome: list = []
    pid: list[int] = []

    def place():
        try:
            pid.append(connection.connection.info.backend_pid if connection.connection else
                       _backend_pid())
            services.bet_place(player=player, legs=[services.LegRequest(home.pk, Decimal("3.2"))],
                               stake=1_000, currency="USD", odds_change="none", now=timezone.now())
            outcome.append("accepted")
        except Exception as exc:  # noqa: BLE001
            outcome.append(getattr(exc, "code", repr(exc)))
        finally:
            connection.close()

    with transaction.atomic():
        selection = Selection.objects.select_for_update().get(pk=home.pk)
        selection.odds, selection.odds_version = Decimal("1.8"), 2
        selection.save(update_fields=["odds", "odds_version"])
        t = threading.Thread(target=place)
        t.start()
        _wait_until_blocked(pid)
    t.join(10)
    assert outcome == ["odds_changed"]
    assert Bet.objects.count() == 0
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


def _backend_pid() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]
