"""Casino money events reach the read models: a player's summary equals their ledger."""

from __future__ import annotations

import pytest
from django.utils import timezone

from casino.commands import BetCommand, Caller, RollbackCommand, WinCommand
from casino.services import casino_bet, casino_rollback, casino_win, game_launch
from reconciliation.models import OperatorDailyKpi
from tests.factories import balances, make_player
from tests.reconciliation.helpers import deposit, relay_and_consume, summary_values

pytestmark = pytest.mark.django_db(transaction=True)


def test_bets_wins_and_rollbacks_feed_the_player_summary_and_kpis():
    user = make_player()
    deposit(user, 10_000)
    now = timezone.now()
    caller = Caller(provider="sandbox",
                    token=game_launch(player=user, provider="sandbox", game="slot",
                                      currency="USD", now=now).token)

    def bet(txid, rnd, amount):
        casino_bet(cmd=BetCommand(caller=caller, transaction_id=txid, round_id=rnd, game="slot",
                                  currency="USD", amount=amount), now=now)

    bet("b1", "r1", 300)
    casino_win(cmd=WinCommand(caller=caller, transaction_id="w1", round_id="r1", game="slot",
                              currency="USD", amount=500, reference_transaction_id="b1"), now=now)
    bet("b2", "r2", 200)
    casino_rollback(cmd=RollbackCommand(caller=caller, transaction_id="rb2",
                                        reference_transaction_id="b2", round_id="r2"), now=now)
    relay_and_consume()

    summary = summary_values(user)
    assert summary == {"deposits": 10_000, "withdrawals": 0, "stakes": 300, "wins": 500,
                       "adjustments": 0, "net": 10_200}
    assert summary["net"] == balances(user)["cash"]
    kpi = OperatorDailyKpi.objects.get(currency="USD")
    assert (kpi.stakes, kpi.payouts, kpi.ggr) == (300, 500, -200)
    assert kpi.active_players == 1
