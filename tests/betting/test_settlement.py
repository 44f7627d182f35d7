"""Settlement: stake x accepted odds (never the current price), once per result, resettlement
by reversal, accumulators across markets, and a run killed midway finished by a re-run."""

from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from betting import services
from betting.models import Bet, BetLeg, MarketSettlement
from betting.services import LegRequest
from events.models import OutboxEvent
from tests.factories import balances, make_player
from wallet.models import Entry, Transaction

from .conftest import make_market, selections_of

pytestmark = pytest.mark.django_db


def bet(player, selections, stake=1_000, odds=None, policy="none"):
    legs = [LegRequest(s.pk, Decimal(odds) if odds else s.odds) for s in selections]
    return services.bet_place(player=player, legs=legs, stake=stake, currency="USD",
                              odds_change=policy, now=timezone.now())


def settle(market, winners=(), void=False, run=True):
    outcome = services.market_settle(market_id=market.pk, winning_selection_ids=[w.pk for w in winners],
                                     void=void, actor=None, reason="abandoned" if void else "",
                                     now=timezone.now())
    report = services.market_settlement_process(market_id=market.pk, now=timezone.now()) if run else None
    return outcome, report


def fresh(b):
    return Bet.objects.get(pk=b.pk)


def settle_txns(b):
    return Transaction.objects.filter(reference=f"bet:{b.pk}", kind="bet_settle")


def test_payout_uses_the_accepted_odds_not_the_current_price(player):
    """The field report: accepted at 3.2, price later 1.8, must be paid at 3.2."""
    market = make_market()
    home, _ = selections_of(market)
    placed = bet(player, [home], stake=1_000, odds="3.2")
    services.selection_odds_update(selection_id=home.pk, odds=Decimal("1.8"), actor=None,
                                   now=timezone.now())
    _, report = settle(market, [home])
    assert report.counts == {"settled": 1}
    settled = fresh(placed)
    assert (settled.status, settled.payout) == ("won", 3_200)
    assert balances(player) == {"cash": 10_000 - 1_000 + 3_200, "reserved": 0, "bonus": 0}
    event = OutboxEvent.objects.get(topic="bet.settled")
    assert (event.payload["payout"], event.payload["outcome"], event.payload["stake"]) == (
        3_200, "won", 1_000)


@pytest.mark.parametrize(("result", "status", "payout", "cash"), [
    ("home", "won", 3_200, 10_000 - 1_000 + 3_200),
    ("away", "lost", 0, 10_000 - 1_000),
    ("void", "void", 1_000, 10_000),
])
def test_single_outcomes_move_the_right_money(player, result, status, payout, cash):
    market = make_market()
    home, away = selections_of(market)
    placed = bet(player, [home])
    if result == "void":
        settle(market, void=True)
    else:
        settle(market, [home if result == "home" else away])
    settled = fresh(placed)
    assert (settled.status, settled.payout, settled.settle_seq) == (status, payout, 1)
    assert balances(player) == {"cash": cash, "reserved": 0, "bonus": 0}
    assert settle_txns(placed).get().dedupe_key == f"bet:{placed.pk}:settle:1"
    assert settled.settle_transaction.dedupe_key == f"bet:{placed.pk}:settle:1"


def test_settling_twice_with_the_same_result_changes_nothing(player):
    market = make_market()
    home, _ = selections_of(market)
    placed = bet(player, [home])
    settle(market, [home])
    after_first = (balances(player), Transaction.objects.count(), OutboxEvent.objects.count())
    outcome, report = settle(market, [home])
    assert outcome.changed is False
    assert report.counts == {}
    assert (balances(player), Transaction.objects.count(), OutboxEvent.objects.count()) == after_first
    assert MarketSettlement.objects.filter(market=market).count() == 1
    # Even a direct second run of one bet's settlement posts nothing.
    assert services.bet_settle_for_market(bet_id=placed.pk, market_id=market.pk,
                                          now=timezone.now()) == "skipped"
    assert settle_txns(placed).count() == 1


@pytest.mark.parametrize(("first", "second", "cash_after", "status", "delta"), [
    ("home", "away", 10_000 - 1_000, "lost", -3_200),
    ("away", "home", 10_000 - 1_000 + 3_200, "won", 3_200),
    ("home", "void", 10_000, "void", -2_200),
    ("void", "home", 10_000 - 1_000 + 3_200, "won", 2_200),
])
def test_corrected_result_reverses_and_reapplies(player, first, second, cash_after, status, delta):
    market = make_market()
    home, away = selections_of(market)
    placed = bet(player, [home])
    pick = {"home": ([home], False), "away": ([away], False), "void": ((), True)}
    settle(market, pick[first][0], void=pick[first][1])
    original = fresh(placed).settle_transaction
    outcome, report = settle(market, pick[second][0], void=pick[second][1])
    assert outcome.changed is True and outcome.market.settlement_version == 2
    assert report.counts == {"resettled": 1}
    settled = fresh(placed)
    assert (settled.status, settled.settle_seq) == (status, 2)
    assert balances(player) == {"cash": cash_after, "reserved": 0, "bonus": 0}
    reversal = Transaction.objects.get(reverses=original)
    assert reversal.dedupe_key == f"bet:{placed.pk}:settle:2:reverse"
    assert settled.settle_transaction.dedupe_key == f"bet:{placed.pk}:settle:2"
    assert OutboxEvent.objects.get(topic="bet.resettled").payload["payout_delta"] == delta
    assert list(MarketSettlement.objects.filter(market=market).values_list("version", flat=True)) == [1, 2]
    # The bet's history shows both settlements.
    assert [h.status for h in settled.history.order_by("history_id")] == [
        "open", {"home": "won", "away": "lost", "void": "void"}[first], status]
    # Settling again with the corrected result changes nothing more.
    count = Transaction.objects.count()
    assert settle(market, pick[second][0], void=pick[second][1])[0].changed is False
    assert Transaction.objects.count() == count


def test_accumulator_waits_for_every_leg_and_counts_void_legs_as_one(player):
    m1 = make_market([("A", "2.500"), ("B", "1.500")], event_name="E1")
    m2 = make_market([("C", "1.800"), ("D", "2.000")], event_name="E2")
    m3 = make_market([("E", "1.333"), ("F", "3.000")], event_name="E3")
    a, _ = selections_of(m1)
    c, _ = selections_of(m2)
    e, _ = selections_of(m3)
    placed = bet(player, [a, c, e], stake=333)
    assert placed.accepted_odds == Decimal("5.9985")
    _, report = settle(m1, [a])
    assert report.counts == {"pending": 1}
    assert fresh(placed).status == "open"
    settle(m2, void=True)
    _, report = settle(m3, [e])
    assert report.counts == {"settled": 1}
    settled = fresh(placed)
    # 333 x 2.5 x 1.00 (void) x 1.333 = 1109.7225 -> 1109
    assert (settled.status, settled.payout) == ("won", 1_109)
    assert balances(player) == {"cash": 10_000 - 333 + 1_109, "reserved": 0, "bonus": 0}
    assert list(BetLeg.objects.filter(bet=placed).values_list("result", flat=True)) == [
        "won", "void", "won"]


def test_accumulator_with_a_losing_leg_loses(player):
    m1 = make_market(event_name="E1")
    m2 = make_market(event_name="E2")
    (a, _), (c, d) = selections_of(m1), selections_of(m2)
    placed = bet(player, [a, c])
    settle(m1, [a])
    settle(m2, [d])
    assert (fresh(placed).status, fresh(placed).payout) == ("lost", 0)
    assert balances(player) == {"cash": 9_000, "reserved": 0, "bonus": 0}


@pytest.mark.django_db(transaction=True)
def test_run_killed_midway_then_rerun_settles_every_bet_exactly_once(monkeypatch, settings):
    settings.BETTING_SETTLEMENT_BATCH = 3  # two transactions of three bets
    market = make_market()
    home, away = selections_of(market)
    players = [make_player(funds={"USD": 5_000}) for _ in range(6)]
    bets = [bet(p, [home if i % 2 else away], stake=1_000 + i) for i, p in enumerate(players)]
    services.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                           now=timezone.now())

    real_emit_many, calls = services.emit_many, []

    def dying_emit_many(events):
        # The worker dies inside the second batch's transaction, while it writes its bets.
        calls.append(len(events))
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real_emit_many(events)

    monkeypatch.setattr(services, "emit_many", dying_emit_many)
    with pytest.raises(SystemExit):
        services.market_settlement_process(market_id=market.pk, now=timezone.now())
    assert calls == [3, 3]
    assert Bet.objects.exclude(status="open").count() == 3
    assert Transaction.objects.filter(kind="bet_settle").count() == 3
    monkeypatch.setattr(services, "emit_many", real_emit_many)

    report = services.market_settlement_process(market_id=market.pk, now=timezone.now())
    assert report.counts == {"settled": 3}
    assert services.market_settlement_process(market_id=market.pk, now=timezone.now()).counts == {}
    for i, (p, b) in enumerate(zip(players, bets, strict=True)):
        assert settle_txns(b).count() == 1
        won = i % 2 == 1
        stake = 1_000 + i
        expected_payout = stake * 32 // 10 if won else 0
        assert (fresh(b).status, fresh(b).payout) == ("won" if won else "lost", expected_payout)
        assert balances(p) == {"cash": 5_000 - stake + expected_payout, "reserved": 0, "bonus": 0}
    assert OutboxEvent.objects.filter(topic="bet.settled").count() == 6


def test_duplicate_settle_requests_through_the_api_pay_once(player, trader_api, eager_celery,
                                                            django_capture_on_commit_callbacks):
    market = make_market()
    home, _ = selections_of(market)
    placed = bet(player, [home])
    url = f"/api/v1/backoffice/markets/{market.pk}/settle/"
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert trader_api.post(url, {"winning_selection_ids": [home.pk]},
                                   format="json").status_code == 202
    assert settle_txns(placed).count() == 1
    assert balances(player) == {"cash": 10_000 - 1_000 + 3_200, "reserved": 0, "bonus": 0}


def test_clawback_the_player_cannot_cover_is_left_blocked_and_changes_nothing(player):
    market = make_market()
    home, away = selections_of(market)
    placed = bet(player, [home], stake=5_000)  # wins 16_000
    settle(market, [home])
    other = make_market(event_name="E2")
    bet(player, selections_of(other)[:1], stake=21_000)  # the winnings are staked again
    before = (balances(player), Transaction.objects.count())
    _, report = settle(market, [away])
    assert report.counts == {"blocked": 1}
    assert (balances(player), Transaction.objects.count()) == before
    assert (fresh(placed).status, fresh(placed).settle_seq) == ("won", 1)
    assert BetLeg.objects.get(bet=placed).settled_version == 1  # retried by the next run


def test_ledger_stays_balanced(player):
    market = make_market()
    home, away = selections_of(market)
    for sel in (home, away, home):
        bet(player, [sel], stake=777)
    settle(market, [home])
    settle(market, [away])
    sums = Entry.objects.values("transaction_id").annotate(s=Sum("amount")).filter(s__gt=0)
    assert not sums.exists()
    assert balances(player)["reserved"] == 0


def test_big_market_is_settled_by_chunk_tasks(trader_api, eager_celery, settings,
                                              django_capture_on_commit_callbacks):
    settings.BETTING_SETTLEMENT_CHUNK = 2
    market = make_market()
    home, away = selections_of(market)
    players = [make_player(funds={"USD": 2_000}) for _ in range(5)]
    bets = [bet(p, [home if i % 2 else away]) for i, p in enumerate(players)]
    with django_capture_on_commit_callbacks(execute=True):
        response = trader_api.post(f"/api/v1/backoffice/markets/{market.pk}/settle/",
                                   {"winning_selection_ids": [away.pk], "reason": "full time"},
                                   format="json")
    assert response.status_code == 202
    assert [fresh(b).status for b in bets] == ["won", "lost", "won", "lost", "won"]
    assert all(settle_txns(b).count() == 1 for b in bets)
    assert MarketSettlement.objects.get(market=market).reason == "full time"
