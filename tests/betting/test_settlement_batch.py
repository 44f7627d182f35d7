"""Set-based settlement: a batch of bets in one transaction and a constant number of
statements, each bet exactly as if settled alone (ledger chain, history, events, limit
counters), a blocked clawback leaving only its own bet, and a batch that meets an existing
settlement falling back to bet-by-bet."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.chain import ledger_chain_verify
from betting import services
from betting.models import Bet, BetLeg
from events.models import OutboxEvent
from reconciliation.checks import run_checks
from responsible.models import Usage
from tests.factories import balances, make_player
from wallet.ledger import Posting as LedgerPosting
from wallet.ledger import ledger_post, posting_accounts, system_account
from wallet.models import Transaction

from .conftest import make_market, selections_of
from .test_settlement import bet

pytestmark = pytest.mark.django_db


def _settle_queries(n_bets: int, settings) -> tuple[int, dict]:
    settings.BETTING_SETTLEMENT_BATCH = 1_000
    market = make_market(event_name=f"E{n_bets}")
    home, away = selections_of(market)
    players = [make_player(funds={"USD": 10_000}) for _ in range(3)]
    for i in range(n_bets):
        bet(players[i % 3], [home if i % 2 else away], stake=100 + i)
    services.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                           now=timezone.now())
    with CaptureQueriesContext(connection) as ctx:
        report = services.market_settlement_process(market_id=market.pk, now=timezone.now())
    return len(ctx.captured_queries), report.counts


def test_statements_per_batch_do_not_grow_with_the_number_of_bets(settings):
    small, small_counts = _settle_queries(4, settings)
    big, big_counts = _settle_queries(40, settings)
    assert (small_counts, big_counts) == ({"settled": 4}, {"settled": 40})
    assert big == small
    assert big <= 26  # lock, read, plan, hooks, ledger, legs, bets, history, events


def test_a_batch_settles_each_bet_as_alone_and_keeps_every_invariant(settings):
    settings.BETTING_SETTLEMENT_BATCH = 1_000
    market = make_market()
    home, away = selections_of(market)
    players = [make_player(funds={"USD": 10_000}) for _ in range(3)]
    placed = [(bet(p, [home if i % 2 else away], stake=1_000 + i), p, i % 2 == 1)
              for i in range(9) for p in [players[i % 3]]]
    services.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                           now=timezone.now())
    report = services.market_settlement_process(market_id=market.pk, now=timezone.now())
    assert report.counts == {"settled": 9}

    expected = {p.pk: 10_000 for p in players}
    for b, p, won in placed:
        settled = Bet.objects.get(pk=b.pk)
        payout = (1_000 + placed.index((b, p, won))) * 32 // 10 if won else 0
        assert (settled.status, settled.payout, settled.settle_seq) == (
            "won" if won else "lost", payout, 1)
        assert settled.settle_transaction.dedupe_key == f"bet:{b.pk}:settle:1"
        assert [h.status for h in settled.history.order_by("history_id")] == ["open", settled.status]
        latest = settled.history.latest("history_id")
        assert (latest.history_change_reason, latest.history_channel) == (
            f"market {market.pk} settlement v1", "system")
        assert BetLeg.objects.get(bet=b).result == ("won" if won else "lost")
        expected[p.pk] += payout - settled.stake
    for p in players:
        assert balances(p) == {"cash": expected[p.pk], "reserved": 0, "bonus": 0}
        # A win lowers the player's net loss, as the one-bet path does.
        won_back = sum(Bet.objects.get(pk=b.pk).payout for b, q, w in placed if q == p and w)
        staked = sum(Bet.objects.get(pk=b.pk).stake for b, q, _ in placed if q == p)
        assert Usage.objects.get(player=p, currency="USD").loss_day == staked - won_back
    events = OutboxEvent.objects.filter(topic="bet.settled")
    assert sorted(e.aggregate_id for e in events) == sorted(str(b.pk) for b, _, _ in placed)
    assert len({e.txid for e in events}) == 1  # one transaction
    assert list(ledger_chain_verify()) == []
    findings = run_checks(now=timezone.now(), only=["ledger_sums", "negative_balances", "single_posting", "reserved"])
    assert findings == []


def test_resettling_a_batch_blocks_only_the_bet_whose_clawback_is_not_covered(settings):
    settings.BETTING_SETTLEMENT_BATCH = 1_000
    market = make_market()
    home, away = selections_of(market)
    rich, broke, other = (make_player(funds={"USD": 10_000}) for _ in range(3))
    bets = [bet(rich, [home], stake=1_000), bet(broke, [home], stake=5_000),
            bet(other, [home], stake=1_000)]
    services.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                           now=timezone.now())
    services.market_settlement_process(market_id=market.pk, now=timezone.now())
    # `broke` stakes the winnings again: its cash no longer covers a clawback of 16_000.
    bet(broke, selections_of(make_market(event_name="E2"))[:1], stake=21_000)
    usage_before = Usage.objects.get(player=broke, currency="USD").loss_day
    before = balances(broke)

    services.market_settle(market_id=market.pk, winning_selection_ids=[away.pk], actor=None,
                           now=timezone.now())
    report = services.market_settlement_process(market_id=market.pk, now=timezone.now())
    assert report.counts == {"resettled": 2, "blocked": 1}
    assert balances(broke) == before
    assert Usage.objects.get(player=broke, currency="USD").loss_day == usage_before
    blocked = Bet.objects.get(pk=bets[1].pk)
    assert (blocked.status, blocked.settle_seq) == ("won", 1)
    assert BetLeg.objects.get(bet=blocked).settled_version == 1
    for b, p in ((bets[0], rich), (bets[2], other)):
        settled = Bet.objects.get(pk=b.pk)
        assert (settled.status, settled.payout, settled.settle_seq) == ("lost", 0, 2)
        assert balances(p) == {"cash": 9_000, "reserved": 0, "bonus": 0}
        reversal = Transaction.objects.get(dedupe_key=f"bet:{b.pk}:settle:2:reverse")
        assert (reversal.kind, reversal.reverses_id, reversal.metadata) == (
            "reversal", Transaction.objects.get(dedupe_key=f"bet:{b.pk}:settle:1").pk,
            {"reverses": reversal.reverses_id})
    resettled = OutboxEvent.objects.filter(topic="bet.resettled")
    assert sorted(e.payload["payout_delta"] for e in resettled) == [-3_200, -3_200]
    assert len({e.txid for e in resettled}) == 1  # both in the one batch transaction
    assert list(ledger_chain_verify()) == []


def test_a_batch_meeting_a_posted_settlement_falls_back_to_one_bet_at_a_time(settings):
    settings.BETTING_SETTLEMENT_BATCH = 1_000
    market = make_market()
    home, _ = selections_of(market)
    players = [make_player(funds={"USD": 10_000}) for _ in range(3)]
    bets = [bet(p, [home]) for p in players]
    services.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                           now=timezone.now())
    # Some other path already posted the second bet's settlement key (a bug, or a race).
    with transaction.atomic():
        accts = posting_accounts(player_id=players[1].pk, currency="USD")
        ledger_post(kind="bet_settle", dedupe_key=f"bet:{bets[1].pk}:settle:1",
                    postings=[LedgerPosting(system_account("house", "USD"), -1),
                              LedgerPosting(accts.cash, 1)])
    report = services.market_settlement_process(market_id=market.pk, now=timezone.now())
    assert report.counts == {"settled": 2, "skipped": 1}
    assert Bet.objects.get(pk=bets[1].pk).status == "open"
    assert [Bet.objects.get(pk=b.pk).status for b in (bets[0], bets[2])] == ["won", "won"]
    assert Transaction.objects.filter(dedupe_key__startswith="bet:", kind="bet_settle").count() == 3


def test_accumulator_legs_in_one_batch_wait_for_the_other_market(player, settings):
    settings.BETTING_SETTLEMENT_BATCH = 1_000
    m1 = make_market(event_name="E1")
    m2 = make_market(event_name="E2")
    (a, _), (c, _) = selections_of(m1), selections_of(m2)
    acc = bet(player, [a, c], stake=100)
    bet(player, [a], stake=100)
    services.market_settle(market_id=m1.pk, winning_selection_ids=[a.pk], actor=None,
                           now=timezone.now())
    report = services.market_settlement_process(market_id=m1.pk, now=timezone.now())
    assert report.counts == {"pending": 1, "settled": 1}
    assert Bet.objects.get(pk=acc.pk).status == "open"
    assert list(BetLeg.objects.filter(bet=acc).order_by("id").values_list("result", flat=True)) == [
        "won", "pending"]
    services.market_settle(market_id=m2.pk, winning_selection_ids=[c.pk], actor=None,
                           now=timezone.now())
    assert services.market_settlement_process(market_id=m2.pk, now=timezone.now()).counts == {
        "settled": 1}
    assert (Bet.objects.get(pk=acc.pk).status, Bet.objects.get(pk=acc.pk).payout) == (
        "won", int(Decimal(100) * Decimal("3.2") * Decimal("3.2")))
