"""Every state change of the sportsbook: one function per use case, each owning its transaction.

The rule behind the field report (a bet accepted at 3.2 paid at 1.8): a bet's price is
fixed in the transaction that accepts it, copied onto each leg with the selection's
`odds_version`, and settlement pays stake x those accepted odds; it never reads a
selection's current price.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection
from django_fsm import can_proceed

from bonuses.models import Product
from bonuses.services import stake_hold, stake_settle
from common.db import service_atomic
from common.gates import Operation, gates_check
from common.history import save_with_history
from common.hooks import hooks_run
from common.money import format_amount
from common.tasks import enqueue_on_commit
from events.services import emit
from wallet.errors import InsufficientFunds
from wallet.ledger import ledger_reverse
from wallet.models import TransactionKind

from .errors import (
    InvalidLegs,
    InvalidSelection,
    MarketClosed,
    MarketNotFound,
    MarketStateConflict,
    MarketSuspended,
    OddsChanged,
    PayoutLimitExceeded,
    SelectionNotFound,
    StakeOutOfRange,
)
from .lock_objects import bet_lock, market_lock, selection_lock, selections_share_lock
from .models import (
    RESULTED_MARKET_STATUSES,
    Bet,
    BetKind,
    BetLeg,
    BetStatus,
    Event,
    LegResult,
    Market,
    MarketSettlement,
    MarketStatus,
    OddsChangePolicy,
    Selection,
)
from .odds import combined_odds, limit_to_minor, odds_str, payout_round_down

logger = logging.getLogger(__name__)


# --- placement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegRequest:
    selection_id: int
    odds: Decimal


def _odds_acceptable(*, requested: Decimal, current: Decimal, policy: str) -> bool:
    if policy == OddsChangePolicy.NONE:
        return current == requested
    if policy == OddsChangePolicy.HIGHER:
        return current >= requested
    return True


def bet_place(
    *, player, legs: Sequence[LegRequest], stake: int, currency: str, odds_change: str, now
) -> Bet:
    """Accept a single or an accumulator at the current prices and hold its stake.

    Raises InvalidLegs, SelectionNotFound, MarketSuspended, MarketClosed, OddsChanged,
    StakeOutOfRange, PayoutLimitExceeded, InsufficientFunds, or a gate's refusal. A refused
    bet writes nothing.
    """
    max_legs = settings.BETTING_MAX_ACCUMULATOR_LEGS
    selection_ids = [leg.selection_id for leg in legs]
    if not 1 <= len(legs) <= max_legs or len(set(selection_ids)) != len(selection_ids):
        raise InvalidLegs(f"A bet has 1 to {max_legs} legs, each on a different selection.")
    if odds_change not in OddsChangePolicy.values:
        raise InvalidLegs("odds_change must be one of none, higher, any.")

    with service_atomic():
        # Share locks: an odds update or suspension of these rows waits until we commit,
        # and we never price a bet on a change that is still in flight.
        priced = selections_share_lock(selection_ids)
        missing = [sid for sid in selection_ids if sid not in priced]
        if missing:
            raise SelectionNotFound(extra={"selection_ids": missing})
        rows = [priced[sid] for sid in selection_ids]
        if len({row.event_id for row in rows}) != len(rows):
            raise InvalidLegs("An accumulator takes at most one leg per event.")

        for row in rows:
            if row.market_status == MarketStatus.SUSPENDED:
                raise MarketSuspended(extra={"market_id": row.market_id})
            if row.market_status != MarketStatus.OPEN:
                raise MarketClosed(extra={"market_id": row.market_id})

        moved = [
            row for leg, row in zip(legs, rows, strict=True)
            if not _odds_acceptable(requested=leg.odds, current=row.odds, policy=odds_change)
        ]
        if moved:
            current = [
                {"selection_id": r.selection_id, "odds": odds_str(r.odds),
                 "odds_version": r.odds_version}
                for r in rows
            ]
            extra: dict = {"legs": current}
            if len(rows) == 1:
                extra.update(odds=current[0]["odds"], odds_version=current[0]["odds_version"])
            raise OddsChanged(extra=extra)

        total_odds = combined_odds(row.odds for row in rows)
        # An accumulator obeys the strictest limits of the markets it touches.
        min_stake = max(limit_to_minor(r.min_stake, currency, round_up=True) for r in rows)
        max_stake = min(limit_to_minor(r.max_stake, currency) for r in rows)
        max_payout = min(limit_to_minor(r.max_payout, currency) for r in rows)
        if not min_stake <= stake <= max_stake:
            raise StakeOutOfRange(extra={"min_stake": format_amount(min_stake, currency),
                                         "max_stake": format_amount(max_stake, currency)})
        potential = payout_round_down(stake, total_odds)
        if potential > max_payout:
            raise PayoutLimitExceeded(extra={"max_payout": format_amount(max_payout, currency),
                                             "potential_payout": format_amount(potential, currency)})
        # Selections (domain rows) are locked; the compliance row next, accounts last.
        gates_check(operation=Operation.BET_PLACE, player_id=player.pk, amount=stake,
                    currency=currency, now=now, player=player)

        bet = Bet(
            player=player, currency=currency, stake=stake, accepted_odds=total_odds,
            kind=BetKind.SINGLE if len(rows) == 1 else BetKind.ACCUMULATOR,
            odds_change=odds_change,
        )
        # Moves cash (then bonus) -> reserved under the player's account lock; refuses an
        # overdraft, and a stake above an open bonus's max bet (bonuses app).
        bet.stake_transaction = stake_hold(
            player_id=player.pk, currency=currency, amount=stake, kind=TransactionKind.BET_STAKE,
            dedupe_key=f"bet:{bet.pk}:stake", reference=f"bet:{bet.pk}",
            product=Product.SPORTSBOOK, now=now,
        )
        save_with_history(bet, user=player, force_insert=True)
        placed = BetLeg.objects.bulk_create([
            BetLeg(
                bet=bet, selection_id=row.selection_id, market_id=row.market_id,
                event_id=row.event_id, requested_odds=leg.odds, accepted_odds=row.odds,
                odds_version=row.odds_version,
            )
            for leg, row in zip(legs, rows, strict=True)
        ])
        _attach_placed_legs(bet, placed, rows)
        emit(
            topic="bet.placed", aggregate_type="bet", aggregate_id=bet.pk,
            payload={"bet_id": str(bet.pk), "player_id": player.pk, "currency": currency,
                     "stake": stake, "occurred_at": now.isoformat()},
        )
    return bet


def _attach_placed_legs(bet: Bet, legs: list[BetLeg], rows: Sequence) -> None:
    """Give the new bet its legs and their selection, market and event names as read under
    the share lock, so showing the accepted bet needs no read-back of what was just written."""
    for leg, row in zip(legs, rows, strict=True):
        leg.selection = Selection(pk=row.selection_id, name=row.selection_name,
                                  market_id=row.market_id)
        leg.market = Market(pk=row.market_id, name=row.market_name, event_id=row.event_id)
        leg.event = Event(pk=row.event_id, name=row.event_name)
    bet._prefetched_objects_cache = {"legs": legs}


# --- trading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SelectionSpec:
    name: str
    odds: Decimal


@dataclass(frozen=True)
class MarketSpec:
    name: str
    selections: Sequence[SelectionSpec]
    min_stake: Decimal | None = None
    max_stake: Decimal | None = None
    max_payout: Decimal | None = None


def event_create(*, name: str, starts_at, markets: Sequence[MarketSpec], actor, reason: str = "",
                 now) -> Event:
    """Create an event with its markets and priced selections (each market open)."""
    with service_atomic():
        event = Event.objects.create(name=name, starts_at=starts_at, created_by=actor)
        for spec in markets:
            limits = {
                k: v for k, v in (("min_stake", spec.min_stake), ("max_stake", spec.max_stake),
                                  ("max_payout", spec.max_payout)) if v is not None
            }
            market = Market(event=event, name=spec.name, **limits)
            save_with_history(market, user=actor, reason=reason or "created")
            for sel_spec in spec.selections:
                selection = Selection(market=market, name=sel_spec.name, odds=sel_spec.odds)
                save_with_history(selection, user=actor, reason=reason or "created")
    return event


def selection_odds_update(*, selection_id: int, odds: Decimal, actor, reason: str = "",
                          now) -> Selection:
    """Set a selection's price and bump its odds_version (recorded with who and why).

    Raises SelectionNotFound, MarketClosed (the market is closed or resulted).
    """
    with service_atomic():
        # Waits for bets being priced on this selection (they hold FOR SHARE) to commit.
        selection = selection_lock(selection_id)
        if selection is None:
            raise SelectionNotFound()
        if selection.market.status not in (MarketStatus.OPEN, MarketStatus.SUSPENDED):
            raise MarketClosed(extra={"market_id": selection.market_id})
        if selection.odds == odds:
            return selection
        selection.odds = odds
        selection.odds_version += 1
        save_with_history(selection, user=actor, reason=reason or "odds update",
                          update_fields=["odds", "odds_version", "updated_at"])
    return selection


_PAST = {"suspend": "suspended", "resume": "resumed"}


def _market_transition(*, market_id: int, action: str, actor, reason: str) -> Market:
    with service_atomic():
        market = market_lock(market_id)
        if market is None:
            raise MarketNotFound()
        method = getattr(market, action)
        if not can_proceed(method):
            raise MarketStateConflict(
                f"A {market.status} market cannot be {_PAST[action]}.",
                extra={"status": market.status},
            )
        method()
        save_with_history(market, user=actor, reason=reason or action)
    return market


def market_suspend(*, market_id: int, actor, reason: str = "", now) -> Market:
    """Stop taking bets on a market (waits for bets in flight). Raises MarketNotFound,
    MarketStateConflict."""
    return _market_transition(market_id=market_id, action="suspend", actor=actor, reason=reason)


def market_resume(*, market_id: int, actor, reason: str = "", now) -> Market:
    """Reopen a suspended market. Raises MarketNotFound, MarketStateConflict."""
    return _market_transition(market_id=market_id, action="resume", actor=actor, reason=reason)


@dataclass(frozen=True)
class SettleRequestOutcome:
    market: Market
    changed: bool  # False: the market already had exactly this result


def market_settle(*, market_id: int, winning_selection_ids: Sequence[int] = (), void: bool = False,
                  actor, reason: str = "", now) -> SettleRequestOutcome:
    """Give a market its result (or void it) and queue the settlement of its bets.

    The same result again changes nothing (the settlement task is queued again, which
    finishes any bets an interrupted run left). A different result is a resettlement: a
    new settlement version, audited, whose task reverses and re-applies affected bets.
    Raises MarketNotFound, InvalidSelection, MarketStateConflict.
    """
    winners = sorted(set(winning_selection_ids))
    if void == bool(winners):
        raise InvalidSelection("Give either winning_selection_ids or void, not both or neither.")

    with service_atomic():
        market = market_lock(market_id)
        if market is None:
            raise MarketNotFound()
        own_ids = set(market.selections.values_list("pk", flat=True))
        if not set(winners) <= own_ids:
            raise InvalidSelection(extra={"selection_ids": sorted(set(winners) - own_ids)})

        if market.status in RESULTED_MARKET_STATUSES:
            same = market.is_void == void and market.winning_selection_ids == winners
            if not same:
                market.resettle(winning_selection_ids=winners, void=void, now=now)
        elif can_proceed(market.settle):
            same = False
            market.settle(winning_selection_ids=winners, void=void, now=now)
        else:
            raise MarketStateConflict(extra={"status": market.status})

        if not same:
            save_with_history(market, user=actor, reason=reason or ("void" if void else "settle"))
            MarketSettlement.objects.create(
                market=market, version=market.settlement_version, void=void,
                winning_selection_ids=winners, created_by=actor, reason=reason,
            )
        # A broker outage must not fail the committed result: the re-drive beat job
        # (market_settlement_redrive) settles what a lost task left open.
        enqueue_on_commit(SETTLEMENT_TASK, market.pk)
    return SettleRequestOutcome(market=market, changed=not same)


SETTLEMENT_TASK = "betting.market_settlement_run"


# --- settlement -----------------------------------------------------------------------------


def bet_outcome(*, stake: int, legs: Sequence[tuple[str, Decimal]]) -> tuple[str | None, int | None]:
    """(status, payout) of a bet from its legs' (result, accepted odds); (None, None) while a
    leg is pending. A lost leg loses the bet; a void leg counts as odds 1.00."""
    results = [result for result, _ in legs]
    if LegResult.PENDING in results:
        return None, None
    if LegResult.LOST in results:
        return BetStatus.LOST, 0
    live = [odds for result, odds in legs if result == LegResult.WON]
    if not live:
        return BetStatus.VOID, stake
    return BetStatus.WON, payout_round_down(stake, combined_odds(live))


def _post_outcome(*, bet: Bet, outcome: str, payout: int, seq: int, now,
                  returned: int | None = None):
    key = f"bet:{bet.pk}:settle:{seq}"
    reference = f"bet:{bet.pk}"
    # What came back lowers the player's net loss; a void takes the stake out of the limit
    # counters (a resettlement passes the change of payout as `returned`). Never refuses.
    hooks_run("STAKE_RETURN_HOOKS", player_id=bet.player_id, currency=bet.currency,
              stake=bet.stake, payout=payout if returned is None else returned,
              staked_at=bet.created_at, now=now,
              void=outcome == BetStatus.VOID and returned is None)
    # A bonus-funded stake returns in its cash/bonus proportion; a first settlement advances
    # the bonus's wagering in this transaction (bonuses app).
    return stake_settle(player_id=bet.player_id, currency=bet.currency, stake=bet.stake,
                        payout=payout, kind=TransactionKind.BET_SETTLE, dedupe_key=key,
                        reference=reference, now=now, void=outcome == BetStatus.VOID)


class SettleResult:
    SETTLED = "settled"
    RESETTLED = "resettled"
    PENDING = "pending"  # other legs still open
    UNCHANGED = "unchanged"  # resulted again, same outcome
    SKIPPED = "skipped"  # already at the market's current settlement version
    BLOCKED = "blocked"  # a clawback the player's cash cannot cover: left for staff


def bet_settle_for_market(*, bet_id, market_id: int, now) -> str:
    """Apply a market's current result to one bet, in its own transaction (safe to repeat).

    Settles the bet when all its legs are resulted: won pays stake x accepted odds (rounded
    down), lost moves the stake to the house, void returns it. A bet already settled on an
    earlier result is resettled: its settlement is reversed and the new one applied.
    """
    try:
        with service_atomic():
            return _bet_settle_locked(bet_id=bet_id, market_id=market_id, now=now)
    except IntegrityError as exc:
        # The ledger's unique dedupe key: another run already posted this settlement.
        if "dedupe_key" not in str(exc):
            raise
        return SettleResult.SKIPPED
    except InsufficientFunds:
        logger.warning("bet resettlement blocked: player cash cannot cover the clawback",
                       extra={"bet_id": str(bet_id), "market_id": market_id})
        return SettleResult.BLOCKED


_SETTLEMENT_FIELDS = ["status", "payout", "settle_seq", "settle_transaction", "settled_at"]


def _bet_settle_locked(*, bet_id, market_id: int, now) -> str:
    bet = bet_lock(bet_id)
    if bet is None:
        return SettleResult.SKIPPED
    # Read after taking the bet lock: the latest committed result of the market.
    market = Market.objects.only("status", "winning_selection_ids", "settlement_version").get(
        pk=market_id)
    if market.status not in RESULTED_MARKET_STATUSES:
        return SettleResult.SKIPPED
    legs = list(bet.legs.all())
    touched = []
    for leg in legs:
        if leg.market_id == market_id and leg.settled_version < market.settlement_version:
            leg.result = market.leg_result_for(leg.selection_id)
            leg.settled_version = market.settlement_version
            touched.append(leg)
    if not touched:
        return SettleResult.SKIPPED
    for leg in touched:  # usually one leg: a plain UPDATE is cheaper than bulk_update's CASE
        BetLeg.objects.filter(pk=leg.pk).update(result=leg.result,
                                                settled_version=leg.settled_version)

    outcome, payout = bet_outcome(stake=bet.stake,
                                  legs=[(leg.result, leg.accepted_odds) for leg in legs])
    if outcome is None:
        return SettleResult.PENDING
    bet._change_reason = f"market {market_id} settlement v{market.settlement_version}"

    if bet.status == BetStatus.OPEN:
        txn = _post_outcome(bet=bet, outcome=outcome, payout=payout, seq=bet.settle_seq + 1,
                            now=now)
        bet.settle(outcome=outcome, payout=payout, now=now)
        bet.settle_transaction = txn
        bet.save(update_fields=_SETTLEMENT_FIELDS)
        emit(
            topic="bet.settled", aggregate_type="bet", aggregate_id=bet.pk,
            payload={"bet_id": str(bet.pk), "player_id": bet.player_id, "currency": bet.currency,
                     "stake": bet.stake, "payout": payout, "outcome": outcome,
                     "occurred_at": now.isoformat()},
        )
        return SettleResult.SETTLED

    if bet.status == outcome and bet.payout == payout:
        return SettleResult.UNCHANGED

    old_payout = bet.payout or 0
    seq = bet.settle_seq + 1
    ledger_reverse(original=bet.settle_transaction, dedupe_key=f"bet:{bet.pk}:settle:{seq}:reverse",
                   reason=f"resettlement of market {market_id} v{market.settlement_version}")
    txn = _post_outcome(bet=bet, outcome=outcome, payout=payout, seq=seq, now=now,
                        returned=payout - old_payout)
    bet.resettle(outcome=outcome, payout=payout, now=now)
    bet.settle_transaction = txn
    bet.save(update_fields=_SETTLEMENT_FIELDS)
    emit(
        topic="bet.resettled", aggregate_type="bet", aggregate_id=bet.pk,
        payload={"bet_id": str(bet.pk), "player_id": bet.player_id, "currency": bet.currency,
                 "stake": bet.stake, "payout_delta": payout - old_payout, "outcome": outcome,
                 "occurred_at": now.isoformat()},
    )
    return SettleResult.RESETTLED


@dataclass
class SettlementReport:
    market_id: int
    settlement_version: int
    counts: dict[str, int] = field(default_factory=dict)


def market_unsettled_bet_ids(*, market_id: int) -> list:
    """Ids of the bets with a leg on this market not yet at its current result."""
    market = Market.objects.filter(pk=market_id).first()
    if market is None or market.status not in RESULTED_MARKET_STATUSES:
        return []
    return list(
        BetLeg.objects.filter(market_id=market_id, settled_version__lt=market.settlement_version)
        .order_by("bet_id").values_list("bet_id", flat=True).distinct()
    )


def market_settlement_redrive(*, now, idle_s: int, limit: int = 100) -> list[int]:
    """Ids of resulted markets whose bets are not all at the current result and that made no
    progress for `idle_s` (no new result, no bet settled): their settlement task was lost
    (broker outage, worker killed with its messages) or died. The caller queues them again."""
    idle_before = now - timedelta(seconds=idle_s)
    with connection.cursor() as cur:
        cur.execute(_REDRIVE_SQL, {"resulted": list(RESULTED_MARKET_STATUSES),
                                   "idle_before": idle_before, "limit": limit})
        return [row[0] for row in cur.fetchall()]


_REDRIVE_SQL = """
SELECT m.id FROM betting_market m
 WHERE m.status = ANY(%(resulted)s)
   AND EXISTS (SELECT 1 FROM betting_betleg l
                WHERE l.market_id = m.id AND l.settled_version < m.settlement_version)
   AND NOT EXISTS (SELECT 1 FROM betting_marketsettlement s
                    WHERE s.market_id = m.id AND s.created_at >= %(idle_before)s)
   AND NOT EXISTS (SELECT 1 FROM betting_betleg l JOIN betting_bet b ON b.id = l.bet_id
                    WHERE l.market_id = m.id AND b.settled_at >= %(idle_before)s)
 ORDER BY m.id
 LIMIT %(limit)s
"""


def market_settlement_process(*, market_id: int, now, bet_ids: Sequence | None = None
                              ) -> SettlementReport:
    """Settle the bets of a resulted market not yet at its current result (or only `bet_ids`),
    one bet per transaction. Safe to run twice or concurrently: finished bets are skipped."""
    market = Market.objects.filter(pk=market_id).first()
    version = market.settlement_version if market else 0
    report = SettlementReport(market_id=market_id, settlement_version=version)
    if bet_ids is None:
        bet_ids = market_unsettled_bet_ids(market_id=market_id)
    for bet_id in bet_ids:
        result = bet_settle_for_market(bet_id=bet_id, market_id=market_id, now=now)
        report.counts[result] = report.counts.get(result, 0) + 1
    return report
