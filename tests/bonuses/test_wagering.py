"""Stakes take cash first, then bonus; returns split in the stake's proportion; wagering
advances in each product's settlement transaction, weighted; the max bet is refused with a
stable code and writes nothing; a wagered bonus converts once, capped."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from betting import services as betting
from betting.models import Bet
from betting.services import LegRequest
from bonuses.models import BonusStake, PlayerBonus
from casino import services as casino
from casino.commands import BetCommand, Caller, RollbackCommand, WinCommand
from sessions import hilo
from sessions import services as sessions
from tests.betting.conftest import make_market, selections_of
from tests.factories import balances, make_player
from wallet.models import Transaction

from .conftest import grant, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def fresh(pb):
    return PlayerBonus.objects.get(pk=pb.pk)


def place(player, selection, stake, odds=None):
    return betting.bet_place(player=player, legs=[LegRequest(selection.pk, Decimal(odds or selection.odds))],
                             stake=stake, currency="USD", odds_change="none", now=timezone.now())


def settle(market, winners=(), void=False):
    betting.market_settle(market_id=market.pk, winning_selection_ids=[w.pk for w in winners],
                          void=void, actor=None, reason="abandoned" if void else "",
                          now=timezone.now())
    betting.market_settlement_process(market_id=market.pk, now=timezone.now())


def test_a_bet_takes_cash_first_then_bonus_and_its_win_splits_in_proportion():
    player = make_player(funds={"USD": 500})
    pb = grant(player, make_campaign(fixed_amount=2_000, wagering_multiple=5,
                                     contribution_sportsbook=50))
    market = make_market((("Home", "2.000"), ("Away", "1.800")))
    home, _ = selections_of(market)
    bet = place(player, home, 1_000)
    assert balances(player) == {"cash": 0, "bonus": 1_500, "reserved": 1_000}
    stake = BonusStake.objects.get(reference=f"bet:{bet.pk}")
    assert (stake.cash_part, stake.bonus_part, stake.status) == (500, 500, "open")
    assert fresh(pb).status == "active"
    settle(market, [home])  # payout 20.00: half to cash, half to bonus
    assert balances(player) == {"cash": 1_000, "bonus": 2_500, "reserved": 0}
    stake.refresh_from_db()
    assert (stake.returned_cash, stake.returned_bonus, stake.contribution) == (1_000, 1_000, 500)
    assert fresh(pb).wagered == 500  # 10.00 at 50 %
    settle_txn = Transaction.objects.get(kind="bet_settle", reference=f"bet:{bet.pk}")
    assert settle_txn.metadata["bonus_share"] == 1_000


def test_a_void_returns_each_part_where_it_came_from_and_advances_nothing():
    player = make_player(funds={"USD": 300})
    pb = grant(player, make_campaign(fixed_amount=1_000))
    market = make_market()
    home, _ = selections_of(market)
    place(player, home, 800)
    settle(market, void=True)
    assert balances(player) == {"cash": 300, "bonus": 1_000, "reserved": 0}
    assert fresh(pb).wagered == 0


def test_the_max_bet_while_wagering_is_refused_with_a_stable_code_and_writes_nothing(player_api, player):
    from tests.factories import fund_player

    fund_player(player, 5_000)
    grant(player, make_campaign(fixed_amount=1_000, max_bet=500))
    market = make_market()
    home, _ = selections_of(market)
    before = (Transaction.objects.count(), balances(player), BonusStake.objects.count())
    resp = player_api.post("/api/v1/betting/bets/", {
        "selection_id": home.pk, "stake": "5.01", "currency": "USD", "odds": str(home.odds),
        "odds_change": "none"}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert resp.status_code == 422 and resp.json()["code"] == "bonus_max_bet_exceeded"
    assert resp.json()["max_bet"] == "5.00"
    assert Bet.objects.filter(player=player).count() == 0
    assert (Transaction.objects.count(), balances(player), BonusStake.objects.count()) == before
    ok = player_api.post("/api/v1/betting/bets/", {
        "selection_id": home.pk, "stake": "5.00", "currency": "USD", "odds": str(home.odds),
        "odds_change": "none"}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert ok.status_code == 201


def test_reaching_the_requirement_converts_once_capped_and_forfeits_the_excess():
    player = make_player()
    pb = grant(player, make_campaign(fixed_amount=1_000, wagering_multiple=1, max_conversion=1_200))
    market = make_market((("Home", "3.000"), ("Away", "1.500")))
    home, _ = selections_of(market)
    place(player, home, 1_000)  # all bonus money
    settle(market, [home])  # 30.00 back to bonus; wagered 10.00 = requirement
    pb = fresh(pb)
    assert (pb.status, pb.converted_amount, pb.forfeited_amount) == ("converted", 1_200, 1_800)
    assert balances(player) == {"cash": 1_200, "bonus": 0, "reserved": 0}
    assert Transaction.objects.filter(dedupe_key=f"bonus:{pb.pk}:close").count() == 1
    assert [h.status for h in pb.history.order_by("history_id")] == [
        "granted", "active", "wagered", "converted"]
    # A conversion asked for again moves nothing.
    from bonuses.services import bonus_convert, bonuses_expire

    bonus_convert(bonus_id=pb.pk, now=timezone.now())
    bonuses_expire(now=timezone.now())
    assert balances(player)["cash"] == 1_200
    assert Transaction.objects.filter(kind__in=["bonus_convert", "bonus_forfeit"]).count() == 1


def test_conversion_waits_for_the_last_open_bonus_stake():
    player = make_player(funds={"USD": 500})
    pb = grant(player, make_campaign(fixed_amount=500, wagering_multiple=1))
    m1, m2 = make_market(event_name="A v B"), make_market(event_name="C v D")
    a, b = selections_of(m1)
    c, _ = selections_of(m2)
    place(player, a, 600)  # 5.00 cash + 1.00 bonus
    place(player, c, 400)  # 4.00 bonus
    settle(m1, [b])  # lost: 6.00 wagered >= 5.00, but the other bonus stake is still open
    assert fresh(pb).status == "wagered"
    assert balances(player) == {"cash": 0, "bonus": 0, "reserved": 400}
    settle(m2, [c])  # 4.00 x 3.2 = 12.80 back to bonus, then the whole balance converts
    pb = fresh(pb)
    assert (pb.status, pb.converted_amount, pb.wagered) == ("converted", 1_280, 600)
    assert balances(player) == {"cash": 1_280, "bonus": 0, "reserved": 0}


def test_a_game_round_is_weighted_per_game_and_its_win_splits():
    player = make_player(funds={"USD": 100})
    pb = grant(player, make_campaign(fixed_amount=1_000, wagering_multiple=10,
                                     contribution_games={"hilo": 25}))
    session = sessions.game_session_start(player=player, game="hilo", currency="USD",
                                          now=timezone.now())
    rid = uuid.uuid4()
    rnd = sessions.game_round_bet(session_id=session.pk, player=player, client_round_id=rid,
                                  stake=400, now=timezone.now()).round
    assert balances(player) == {"cash": 0, "bonus": 700, "reserved": 400}
    choice = "higher" if hilo.winning_ranks(card=rnd.card, choice="higher") else "lower"
    settled = sessions.game_round_guess(session_id=session.pk, player=player, client_round_id=rid,
                                        choice=choice, now=timezone.now()).round
    stake = BonusStake.objects.get(reference=f"round:{rnd.pk}")
    payout = settled.payout or 0
    assert stake.returned_bonus == payout * 300 // 400
    assert stake.returned_cash == payout - payout * 300 // 400
    assert balances(player) == {"cash": stake.returned_cash, "bonus": 700 + stake.returned_bonus,
                                "reserved": 0}
    assert fresh(pb).wagered == 100  # 4.00 at 25 %


def test_seamless_wallet_bets_wins_and_rollbacks_follow_the_split():
    player = make_player(funds={"USD": 200})
    pb = grant(player, make_campaign(fixed_amount=1_000, wagering_multiple=10,
                                     contribution_casino=20))
    launched = casino.game_launch(player=player, provider="sandbox", game="slot", currency="USD",
                                  now=timezone.now())
    caller = Caller(provider="sandbox", token=launched.token)
    now = timezone.now()
    casino.casino_bet(cmd=BetCommand(caller=caller, transaction_id="b1", round_id="r1", game="slot",
                                     currency="USD", amount=500), now=now)
    assert balances(player) == {"cash": 0, "bonus": 700, "reserved": 0}
    assert fresh(pb).wagered == 100  # 5.00 at 20 %, in the bet's transaction
    casino.casino_win(cmd=WinCommand(caller=caller, transaction_id="w1", round_id="r1", game="slot",
                                     currency="USD", amount=1_000, reference_transaction_id="b1"),
                      now=now)
    # 10.00 back: 2/5 cash, 3/5 bonus.
    assert balances(player) == {"cash": 400, "bonus": 1_300, "reserved": 0}
    casino.casino_bet(cmd=BetCommand(caller=caller, transaction_id="b2", round_id="r2", game="slot",
                                     currency="USD", amount=600), now=now)
    assert balances(player) == {"cash": 0, "bonus": 1_100, "reserved": 0}
    casino.casino_rollback(cmd=RollbackCommand(caller=caller, transaction_id="rb2",
                                               reference_transaction_id="b2"), now=now)
    assert balances(player) == {"cash": 400, "bonus": 1_300, "reserved": 0}
    assert fresh(pb).wagered == 100  # the rolled-back bet's contribution is taken back
    assert BonusStake.objects.get(reference="casino:sandbox:b2").status == "void"


def test_without_a_bonus_stakes_and_wins_are_cash_only():
    player = make_player(funds={"USD": 1_000})
    market = make_market((("Home", "2.000"), ("Away", "1.800")))
    home, _ = selections_of(market)
    place(player, home, 1_000)
    settle(market, [home])
    assert balances(player) == {"cash": 2_000, "bonus": 0, "reserved": 0}
    assert BonusStake.objects.count() == 0


def test_a_bonus_funded_bet_in_a_settlement_batch_still_splits_and_wagers(settings):
    """The batch settles plain bets set-based and hands bonus-tracked ones to stake_settle."""
    settings.BETTING_SETTLEMENT_BATCH = 100
    plain_player, bonus_player = make_player(funds={"USD": 5_000}), make_player(funds={"USD": 500})
    pb = grant(bonus_player, make_campaign(fixed_amount=2_000, wagering_multiple=5,
                                           contribution_sportsbook=50))
    market = make_market((("Home", "2.000"), ("Away", "1.800")))
    home, _ = selections_of(market)
    plain = place(plain_player, home, 1_000)
    funded = place(bonus_player, home, 1_000)
    betting.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                          now=timezone.now())
    report = betting.market_settlement_process(market_id=market.pk, now=timezone.now())
    assert report.counts == {"settled": 2}
    assert balances(plain_player) == {"cash": 6_000, "bonus": 0, "reserved": 0}
    assert balances(bonus_player) == {"cash": 1_000, "bonus": 2_500, "reserved": 0}
    assert fresh(pb).wagered == 500
    assert [Bet.objects.get(pk=b.pk).status for b in (plain, funded)] == ["won", "won"]
    assert "bonus_id" not in Transaction.objects.get(kind="bet_settle",
                                                     reference=f"bet:{plain.pk}").metadata
