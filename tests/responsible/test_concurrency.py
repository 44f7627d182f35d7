"""N parallel deposits or bets never take a player past a limit by a single minor unit: real
threads, each with its own PostgreSQL connection, released together by a barrier."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from betting import services as betting
from betting.models import Bet
from responsible import services
from responsible.errors import LimitExceeded
from responsible.models import Usage
from sessions import services as sessions
from sessions.models import GameRound
from tests.betting.conftest import make_market, selections_of
from tests.factories import balances, make_player
from wallet import services as wallet
from wallet.models import Deposit

pytestmark = pytest.mark.django_db(transaction=True)

N = 8


def race(fn, n=N):
    """Run fn(i) on n threads released together; return (successes, refusals)."""
    barrier = threading.Barrier(n)
    ok, refused, errors = [], [], []

    def run(i):
        try:
            barrier.wait()
            fn(i)
            ok.append(i)
        except LimitExceeded:
            refused.append(i)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    return ok, refused


def test_parallel_deposits_never_exceed_the_deposit_limit():
    player = make_player()
    now = timezone.now()
    # 8 x 30.01 against 100.00: at most three fit, and 90.03 leaves 9.97 for nobody.
    services.limit_set(player=player, kind="deposit", period="day", currency="USD",
                       amount=10_000, now=now)
    ok, refused = race(lambda i: wallet.deposit_create(player=player, amount=3_001,
                                                       currency="USD", provider="sandbox",
                                                       now=now))
    assert (len(ok), len(refused)) == (3, N - 3)
    assert Deposit.objects.filter(player=player).count() == 3
    assert Usage.objects.get(player=player).deposit_day == 3 * 3_001


def test_parallel_deposits_fill_the_limit_to_the_minor_unit():
    player = make_player()
    now = timezone.now()
    services.limit_set(player=player, kind="deposit", period="week", currency="USD",
                       amount=5 * 1_234, now=now)
    ok, refused = race(lambda i: wallet.deposit_create(player=player, amount=1_234,
                                                       currency="USD", provider="sandbox",
                                                       now=now))
    assert (len(ok), len(refused)) == (5, N - 5)
    total = sum(Deposit.objects.filter(player=player).values_list("amount", flat=True))
    assert total == 5 * 1_234


def test_parallel_bets_never_exceed_the_wager_limit():
    player = make_player(funds={"USD": 100_000})
    home, _ = selections_of(make_market())
    now = timezone.now()
    services.limit_set(player=player, kind="wager", period="day", currency="USD", amount=2_500,
                       now=now)
    services.limit_set(player=player, kind="loss", period="month", currency="USD",
                       amount=50_000, now=now)

    def place(i):
        betting.bet_place(player=player, stake=1_000, currency="USD", odds_change="any",
                          legs=[betting.LegRequest(home.pk, Decimal("3.2"))], now=now)

    ok, refused = race(place)
    assert (len(ok), len(refused)) == (2, N - 2)
    assert sum(Bet.objects.filter(player=player).values_list("stake", flat=True)) == 2_000
    assert balances(player) == {"cash": 98_000, "reserved": 2_000, "bonus": 0}


def test_parallel_round_stakes_of_many_sessions_never_exceed_the_loss_limit():
    # A player has one live session with one open round at a time, so a round stake races
    # the player's sportsbook bets against the same loss limit.
    player = make_player(funds={"USD": 100_000})
    home, _ = selections_of(make_market())
    now = timezone.now()
    services.limit_set(player=player, kind="loss", period="day", currency="USD", amount=3_000,
                       now=now)
    session = sessions.game_session_start(player=player, game="hilo", currency="USD", now=now)

    def stake(i):
        if i == 0:
            sessions.game_round_bet(session_id=session.pk, player=player,
                                    client_round_id=uuid.uuid4(), stake=1_000, now=now)
        else:
            betting.bet_place(player=player, stake=1_000, currency="USD", odds_change="any",
                              legs=[betting.LegRequest(home.pk, Decimal("3.2"))], now=now)

    ok, refused = race(stake)
    assert (len(ok), len(refused)) == (3, N - 3)
    staked = (sum(Bet.objects.filter(player=player).values_list("stake", flat=True))
              + sum(GameRound.objects.filter(player=player).values_list("stake", flat=True)))
    assert staked == 3_000
    assert Usage.objects.get(player=player).loss_day == 3_000
