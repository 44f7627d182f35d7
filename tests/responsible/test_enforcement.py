"""Limits enforced in the money transaction: a deposit, a bet or a round stake over a limit is
refused with 422 limit_exceeded naming the limit and what remains, and writes nothing; wins,
voids and withdrawals are never blocked."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from betting import services as betting
from betting.models import Bet
from events.models import OutboxEvent
from responsible import services
from responsible.counters import period_starts
from responsible.errors import LimitExceeded
from responsible.models import Usage
from sessions import hilo
from sessions import services as sessions
from sessions.models import GameRound
from tests.betting.conftest import make_market, selections_of
from tests.factories import balances, make_staff
from users.roles import COMPLIANCE
from wallet import services as wallet
from wallet.models import Deposit, Transaction, Withdrawal

from .conftest import DAY, HOUR, T0

pytestmark = pytest.mark.django_db


def limit(player, kind, amount, *, period="day", now=T0):
    services.limit_set(player=player, kind=kind, period=period, currency="USD", amount=amount,
                       now=now)


def usage(player) -> Usage | None:
    return Usage.objects.filter(player=player, currency="USD").first()


def written(player):
    u = usage(player)
    return (balances(player), Deposit.objects.count(), Bet.objects.count(),
            GameRound.objects.count(), Transaction.objects.count(), OutboxEvent.objects.count(),
            None if u is None else (u.deposit_day, u.wager_day, u.loss_day))


def deposit(player, amount, now):
    return wallet.deposit_create(player=player, amount=amount, currency="USD",
                                 provider="sandbox", now=now)


def bet(player, selection, stake, now):
    return betting.bet_place(player=player, stake=stake, currency="USD", odds_change="any",
                             legs=[betting.LegRequest(selection.pk, Decimal("2"))], now=now)


def test_a_deposit_over_the_limit_is_refused_naming_it_and_writes_nothing(player):
    limit(player, "deposit", 5_000)
    deposit(player, 3_000, T0)
    before = written(player)
    with pytest.raises(LimitExceeded) as exc:
        deposit(player, 2_001, T0 + HOUR)
    assert exc.value.status_code == 422 and exc.value.code == "limit_exceeded"
    assert exc.value.extra["limit"] == {"kind": "deposit", "period": "day", "source": "player",
                                        "amount": "50.00", "currency": "USD"}
    assert exc.value.extra["remaining"] == "20.00"
    assert written(player) == before
    deposit(player, 2_000, T0 + HOUR)  # exactly up to the limit is allowed
    assert usage(player).deposit_day == 5_000


def test_the_deposit_api_answers_422_with_the_limit_and_the_remaining_amount(player, player_api):
    services.limit_set(player=player, kind="deposit", period="week", currency="USD",
                       amount=1_000, now=timezone.now())
    body = {"amount": "10.01", "currency": "USD", "provider": "sandbox"}
    response = player_api.post("/api/v1/payments/deposits/", body, format="json",
                               HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert response.status_code == 422, response.json()
    data = response.json()
    assert data["code"] == "limit_exceeded"
    assert data["limit"]["kind"] == "deposit" and data["limit"]["period"] == "week"
    assert data["remaining"] == "10.00"
    assert Deposit.objects.count() == 0


def test_a_failed_deposit_leaves_the_deposit_counter(player):
    now = timezone.now()  # the deposit's created_at is the database's clock
    limit(player, "deposit", 5_000, now=now)
    d = deposit(player, 5_000, now)
    with pytest.raises(LimitExceeded):
        deposit(player, 1, now)
    with transaction.atomic():
        wallet._deposit_fail(Deposit.objects.select_for_update().get(pk=d.pk),
                             provider_transaction_id="ptx-1", now=now)
    assert Deposit.objects.get(pk=d.pk).status == "failed"
    assert usage(player).deposit_day == 0
    deposit(player, 5_000, now)


def test_the_strictest_of_player_and_operator_limits_applies(player):
    officer = make_staff(COMPLIANCE)
    limit(player, "deposit", 5_000)
    services.limit_impose(player_id=player.pk, kind="deposit", period="month", currency="USD",
                          amount=1_500, actor=officer, reason="affordability", now=T0)
    with pytest.raises(LimitExceeded) as exc:
        deposit(player, 1_501, T0)
    assert exc.value.extra["limit"]["source"] == "operator"
    assert exc.value.extra["limit"]["period"] == "month"
    assert exc.value.extra["remaining"] == "15.00"


def test_counters_roll_over_with_the_calendar_period(player):
    limit(player, "deposit", 1_000)  # per day
    limit(player, "deposit", 2_500, period="week")
    deposit(player, 1_000, T0)
    with pytest.raises(LimitExceeded):
        deposit(player, 1, T0 + HOUR)
    deposit(player, 1_000, T0 + DAY)  # Thursday: a new day, the same week
    with pytest.raises(LimitExceeded) as exc:
        deposit(player, 600, T0 + 2 * DAY)
    assert exc.value.extra["limit"]["period"] == "week"
    assert exc.value.extra["remaining"] == "5.00"
    deposit(player, 1_000, T0 + 5 * DAY)  # the next Monday: a new week
    starts = period_starts(T0 + 5 * DAY)
    u = usage(player)
    assert (u.day_start, u.week_start) == (starts["day"], starts["week"])
    assert (u.deposit_day, u.deposit_week) == (1_000, 1_000)


def test_a_bet_over_the_wager_limit_is_refused_and_writes_nothing(player):
    home, _ = selections_of(make_market())
    limit(player, "wager", 1_500)
    bet(player, home, 1_000, T0)
    before = written(player)
    with pytest.raises(LimitExceeded) as exc:
        bet(player, home, 501, T0)
    assert exc.value.extra["limit"]["kind"] == "wager"
    assert exc.value.extra["remaining"] == "5.00"
    assert written(player) == before
    bet(player, home, 500, T0)


def test_wins_lower_the_net_loss_and_voids_take_the_stake_out(player):
    market = make_market()
    home, _ = selections_of(market)
    limit(player, "loss", 2_000)
    first = bet(player, home, 1_500, T0)
    with pytest.raises(LimitExceeded) as exc:
        bet(player, home, 501, T0)
    assert exc.value.extra["limit"]["kind"] == "loss" and exc.value.extra["remaining"] == "5.00"
    # The bet wins 15.00 x 3.20 = 48.00: the net loss of the day is now -33.00.
    betting.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                          now=timezone.now())
    betting.market_settlement_process(market_id=market.pk, now=T0 + HOUR)
    first.refresh_from_db()
    assert first.status == "won"
    assert first.payout == 4_800
    assert usage(player).loss_day == 1_500 - 4_800
    other, _ = selections_of(make_market(event_name="City v Town", max_stake="1000"))
    bet(player, other, 5_200, T0 + HOUR)  # -33.00 + 52.00 = 19.00
    with pytest.raises(LimitExceeded) as exc:
        bet(player, other, 101, T0 + HOUR)
    assert exc.value.extra["remaining"] == "1.00"
    bet(player, other, 100, T0 + HOUR)  # exactly up to the limit


def test_a_void_takes_the_round_stake_out_and_a_stake_over_the_limit_is_refused(player,
                                                                                monkeypatch):
    limit(player, "loss", 300)
    session = sessions.game_session_start(player=player, game="hilo", currency="USD", now=T0)
    sessions.game_round_bet(session_id=session.pk, player=player, client_round_id=uuid.uuid4(),
                            stake=200, now=T0)
    assert usage(player).loss_day == 200
    # A new session supersedes this one and voids its open round: the stake comes back out.
    session = sessions.game_session_start(player=player, game="hilo", currency="USD", now=T0)
    assert (usage(player).loss_day, usage(player).wager_day) == (0, 0)
    assert balances(player)["reserved"] == 0

    monkeypatch.setattr(hilo, "draw_card", lambda: 7)
    rid = uuid.uuid4()
    sessions.game_round_bet(session_id=session.pk, player=player, client_round_id=rid,
                            stake=300, now=T0)
    monkeypatch.setattr(hilo, "draw_card", lambda: 2)
    lost = sessions.game_round_guess(session_id=session.pk, player=player, client_round_id=rid,
                                     choice="higher", now=T0)
    assert lost.round.outcome == "lost"
    before = written(player)
    with pytest.raises(LimitExceeded) as exc:
        sessions.game_round_bet(session_id=session.pk, player=player,
                                client_round_id=uuid.uuid4(), stake=1, now=T0)
    assert exc.value.extra["limit"]["kind"] == "loss" and exc.value.extra["remaining"] == "0.00"
    assert written(player) == before


def test_a_round_win_lowers_the_loss_counter(player, monkeypatch):
    limit(player, "loss", 10_000)
    session = sessions.game_session_start(player=player, game="hilo", currency="USD", now=T0)
    rid = uuid.uuid4()
    monkeypatch.setattr(hilo, "draw_card", lambda: 2)
    sessions.game_round_bet(session_id=session.pk, player=player, client_round_id=rid,
                            stake=100, now=T0)
    monkeypatch.setattr(hilo, "draw_card", lambda: 10)
    result = sessions.game_round_guess(session_id=session.pk, player=player,
                                       client_round_id=rid, choice="higher", now=T0)
    assert result.round.outcome == "won"
    assert usage(player).loss_day == 100 - result.round.payout
    assert usage(player).wager_day == 100


def test_withdrawals_are_never_blocked_by_a_limit(player, settings):
    settings.KYC_WITHDRAWAL_THRESHOLD = "1000000"
    limit(player, "deposit", 0)
    limit(player, "wager", 0)
    limit(player, "loss", 0)
    w = wallet.withdrawal_request(player=player, amount=5_000, currency="USD",
                                  destination="iban:x", now=T0)
    assert Withdrawal.objects.get(pk=w.pk).status == "requested"
    assert balances(player)["reserved"] == 5_000
