"""Time-outs and self-exclusions: while in force, deposits, bets, new game sessions and round
stakes are refused, a live session is closed and its funds released, open bets still settle
and withdrawals stay possible; a self-exclusion cannot be lifted early, and at its end the
account stays closed until the player asks to return and a cooling-off passes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from betting import services as betting
from betting.models import Bet
from responsible import selectors, services
from responsible.errors import (
    ExclusionActive,
    ExclusionNotLiftable,
    InvalidDuration,
    ReasonRequired,
    SelfExcluded,
    TimedOut,
)
from responsible.models import Exclusion, ExclusionStatus
from sessions import services as sessions
from sessions.models import GameRound, GameSession
from tests.betting.conftest import make_market, selections_of
from tests.factories import balances, make_staff
from users.roles import COMPLIANCE
from wallet import services as wallet
from wallet.models import Deposit, Transaction

from .conftest import DAY, HOUR, T0

pytestmark = pytest.mark.django_db


def refused_everywhere(player, now, error):
    home, _ = selections_of(make_market(event_name=f"E {uuid.uuid4().hex[:6]}"))
    before = (balances(player), Deposit.objects.count(), Bet.objects.count(),
              GameSession.objects.count(), Transaction.objects.count())
    with pytest.raises(error):
        wallet.deposit_create(player=player, amount=100, currency="USD", provider="sandbox",
                              now=now)
    with pytest.raises(error):
        betting.bet_place(player=player, stake=100, currency="USD", odds_change="any",
                          legs=[betting.LegRequest(home.pk, Decimal("3.2"))], now=now)
    with pytest.raises(error):
        sessions.game_session_start(player=player, game="hilo", currency="USD", now=now)
    assert (balances(player), Deposit.objects.count(), Bet.objects.count(),
            GameSession.objects.count(), Transaction.objects.count()) == before
    assert not selectors.marketing_allowed(player_id=player.pk, now=now)


def allowed(player, now):
    wallet.deposit_create(player=player, amount=100, currency="USD", provider="sandbox", now=now)
    sessions.game_session_start(player=player, game="hilo", currency="USD", now=now)
    assert selectors.marketing_allowed(player_id=player.pk, now=now)


def test_a_time_out_refuses_play_and_deposits_until_it_ends(player, settings):
    settings.KYC_WITHDRAWAL_THRESHOLD = "1000000"
    timeout = services.timeout_start(player=player, days=2, now=T0)
    assert timeout.ends_at == T0 + 2 * DAY
    refused_everywhere(player, T0 + DAY, TimedOut)
    # Withdrawals stay possible.
    wallet.withdrawal_request(player=player, amount=1_000, currency="USD",
                              destination="iban:x", now=T0 + DAY)
    assert balances(player)["reserved"] == 1_000
    with pytest.raises(ExclusionActive):
        services.timeout_start(player=player, days=1, now=T0 + HOUR)
    allowed(player, T0 + 2 * DAY)
    assert services.exclusions_finish(now=T0 + 2 * DAY) == 1
    timeout.refresh_from_db()
    assert timeout.status == ExclusionStatus.ENDED


@pytest.mark.parametrize("days", [0, 43, None])
def test_a_time_out_lasts_a_day_to_six_weeks(player, days):
    with pytest.raises(InvalidDuration):
        services.timeout_start(player=player, days=days, now=T0)
    assert Exclusion.objects.count() == 0


@pytest.mark.parametrize("months", [5, 61, 0])
def test_a_self_exclusion_lasts_six_months_to_five_years(player, months):
    with pytest.raises(InvalidDuration):
        services.self_exclusion_start(player=player, months=months, now=T0)
    assert Exclusion.objects.count() == 0


def test_a_self_exclusion_closes_the_live_session_and_releases_its_round(player):
    session = sessions.game_session_start(player=player, game="hilo", currency="USD", now=T0)
    sessions.game_round_bet(session_id=session.pk, player=player, client_round_id=uuid.uuid4(),
                            stake=700, now=T0)
    assert balances(player) == {"cash": 9_300, "reserved": 700, "bonus": 0}
    services.self_exclusion_start(player=player, months=6, now=T0 + HOUR)
    session = GameSession.objects.get(pk=session.pk)
    assert session.status == "closed" and session.closed_at == T0 + HOUR
    rnd = GameRound.objects.get(session=session)
    assert (rnd.status, rnd.payout) == ("voided", 700)
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}
    refused_everywhere(player, T0 + 2 * HOUR, SelfExcluded)


def test_an_open_bet_still_settles_during_a_self_exclusion(player):
    market = make_market()
    home, _ = selections_of(market)
    bet = betting.bet_place(player=player, stake=1_000, currency="USD", odds_change="any",
                            legs=[betting.LegRequest(home.pk, Decimal("3.2"))],
                            now=timezone.now())
    services.self_exclusion_start(player=player, indefinite=True, now=timezone.now())
    betting.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                          now=timezone.now())
    betting.market_settlement_process(market_id=market.pk, now=timezone.now())
    bet = Bet.objects.get(pk=bet.pk)
    assert (bet.status, bet.payout) == ("won", 3_200)
    assert balances(player) == {"cash": 10_000 - 1_000 + 3_200, "reserved": 0, "bonus": 0}


def test_a_self_exclusion_cannot_be_lifted_early_and_reopens_only_on_request(player):
    exclusion = services.self_exclusion_start(player=player, months=6, now=T0)
    end = exclusion.ends_at
    assert end == T0.replace(month=12)
    with pytest.raises(ExclusionNotLiftable):
        services.self_exclusion_request_return(player=player, now=end - HOUR)
    # Its term is over, but the account stays closed until the player asks to return.
    refused_everywhere(player, end + 30 * DAY, SelfExcluded)
    assert services.exclusions_finish(now=end + 30 * DAY) == 0
    services.self_exclusion_request_return(player=player, now=end + 30 * DAY)
    exclusion.refresh_from_db()
    assert exclusion.status == ExclusionStatus.RETURN_REQUESTED
    assert exclusion.reopen_at == end + 30 * DAY + DAY
    refused_everywhere(player, end + 30 * DAY + DAY - timedelta(seconds=1), SelfExcluded)
    allowed(player, end + 31 * DAY)
    assert services.exclusions_finish(now=end + 31 * DAY) == 1
    exclusion.refresh_from_db()
    assert exclusion.status == ExclusionStatus.ENDED
    reasons = list(exclusion.history.order_by("history_date")
                   .values_list("history_change_reason", flat=True))
    assert reasons[0] == "self-exclusion by player" and reasons[-1] == "ended"


def test_an_indefinite_self_exclusion_can_be_asked_to_end_only_after_the_minimum(player):
    services.self_exclusion_start(player=player, indefinite=True, now=T0)
    with pytest.raises(ExclusionNotLiftable):
        services.self_exclusion_request_return(player=player, now=T0 + 150 * DAY)
    refused_everywhere(player, T0 + 400 * DAY, SelfExcluded)
    services.self_exclusion_request_return(player=player, now=T0 + 400 * DAY)
    allowed(player, T0 + 401 * DAY)


def test_compliance_imposes_exclusions_with_a_reason_and_cannot_shorten_them(player):
    officer = make_staff(COMPLIANCE)
    with pytest.raises(ReasonRequired):
        services.exclusion_impose(player_id=player.pk, kind="self_exclusion", months=12,
                                  actor=officer, reason="", now=T0)
    exclusion = services.exclusion_impose(player_id=player.pk, kind="self_exclusion",
                                          months=12, actor=officer,
                                          reason="problem gambling indicators", now=T0)
    assert (exclusion.source, exclusion.created_by) == ("operator", officer)
    assert "problem gambling indicators" in exclusion.reason
    refused_everywhere(player, T0 + DAY, SelfExcluded)
    # There is no early lift: not for the player, and no service for staff.
    with pytest.raises(ExclusionNotLiftable):
        services.self_exclusion_request_return(player=player, now=T0 + DAY)
    assert not hasattr(services, "exclusion_lift")
