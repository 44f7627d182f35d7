"""Every state change of the sportsbook: one function per use case, each owning its transaction.

The rule behind the field report (a bet accepted at 3.2 paid at 1.8): a bet's price is
fixed in the transaction that accepts it, copied onto each leg with the selection's
`odds_version`, and settlement pays stake x those accepted odds; it never reads a
selection's current price.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django_fsm import can_proceed

from bonuses.models import Product
from bonuses.selectors import bonus_tracked_references
from bonuses.services import stake_hold, stake_settle
from common.db import json_rows, json_rows_sql, pg_array, service_atomic
from common.gates import Operation, gates_check
from common.history import history_channel, save_with_history
from common.hooks import hooks_run
from common.money import format_amount
from common.tasks import enqueue_on_commit
from events.services import EventSpec, emit, emit_many
from wallet.errors import InsufficientFunds
from wallet.ledger import (
    PlayerAccountRefs,
    PostingRequest,
    ledger_post_batch,
    ledger_reverse,
    ledger_transaction_ids,
    posting_account_refs,
    release_hold_postings,
    reversal_postings,
    settle_hold_postings,
    system_account,
)
from wallet.models import Account, AccountKind, TransactionKind

from .errors import (
    EventNotStarted,
    EventStarted,
    InvalidLegs,
    InvalidSelection,
    MarketClosed,
    MarketNotFound,
    MarketStateConflict,
    MarketSuspended,
    OddsChanged,
    PayoutLimitExceeded,
    ReasonRequired,
    SelectionNotFound,
    StakeOutOfRange,
)
from .lock_objects import (
    LockedBet,
    bet_lock,
    bets_lock,
    market_lock,
    selection_lock,
    selections_share_lock,
)
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
    EventStarted (the event has started and the market is not in-play), StakeOutOfRange,
    PayoutLimitExceeded, InsufficientFunds, or a gate's refusal (StaffAccountRefused: staff
    never bet). A refused bet writes nothing.
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
            if row.event_starts_at <= now and not row.in_play:
                raise EventStarted(extra={"market_id": row.market_id})

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
    in_play: bool = False


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
            market = Market(event=event, name=spec.name, in_play=spec.in_play, **limits)
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
    A result is given only once the event has started (a market settled before kick-off is
    how a trader pays themselves); a void is possible at any time, with a reason.
    Raises MarketNotFound, InvalidSelection, ReasonRequired (a void without a reason),
    EventNotStarted, MarketStateConflict.
    """
    winners = sorted(set(winning_selection_ids))
    if void == bool(winners):
        raise InvalidSelection("Give either winning_selection_ids or void, not both or neither.")
    reason = (reason or "").strip()
    if void and not reason:
        raise ReasonRequired()

    with service_atomic():
        market = market_lock(market_id)
        if market is None:
            raise MarketNotFound()
        if not void and market.event.starts_at > now:
            raise EventNotStarted(extra={"market_id": market.pk,
                                         "starts_at": market.event.starts_at.isoformat()})
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
class _BetPlan:
    bet: LockedBet
    legs: list[tuple[int, str]]  # (leg id, new result) of the legs on this market
    result: str
    outcome: str | None = None
    payout: int | None = None
    requests: list[PostingRequest] = field(default_factory=list)
    stake_return: dict | None = None


def _plan(bet: LockedBet, legs: list[tuple], market: Market, accounts: PlayerAccountRefs,
          house: Account) -> _BetPlan | None:
    """What applying the market's current result does to one locked bet (pure)."""
    version = market.settlement_version
    touched = [(leg_id, market.leg_result_for(selection_id))
               for leg_id, leg_market_id, selection_id, _, _, settled_version in legs
               if leg_market_id == market.pk and settled_version < version]
    if not touched:
        return None
    new_results = dict(touched)
    outcome, payout = bet_outcome(stake=bet.stake, legs=[
        (new_results.get(leg_id, result), odds) for leg_id, _, _, odds, result, _ in legs])
    if outcome is None:
        return _BetPlan(bet=bet, legs=touched, result=SettleResult.PENDING)
    if bet.status == BetStatus.OPEN:
        plan = _BetPlan(bet=bet, legs=touched, result=SettleResult.SETTLED, outcome=outcome,
                        payout=payout)
        returned, void = payout, outcome == BetStatus.VOID
    elif bet.status == outcome and bet.payout == payout:
        return _BetPlan(bet=bet, legs=touched, result=SettleResult.UNCHANGED)
    else:
        plan = _BetPlan(bet=bet, legs=touched, result=SettleResult.RESETTLED, outcome=outcome,
                        payout=payout)
        # A resettlement passes the change of payout; it is never counted as a void.
        returned, void = payout - (bet.payout or 0), False
    # What came back lowers the player's net loss; a void takes the stake out of the limit
    # counters. Run through STAKE_RETURN_BATCH_HOOKS; never refuses.
    plan.stake_return = {"player_id": bet.player_id, "currency": bet.currency, "stake": bet.stake,
                         "payout": returned, "staked_at": bet.created_at, "void": void}
    seq = bet.settle_seq + 1
    reference = f"bet:{bet.id}"
    if outcome == BetStatus.VOID:
        postings = release_hold_postings(accounts=accounts, amount=bet.stake)
    else:
        postings = settle_hold_postings(accounts=accounts, stake=bet.stake, payout=payout,
                                        house=house)
    plan.requests.append(PostingRequest(kind=TransactionKind.BET_SETTLE, postings=postings,
                                        dedupe_key=f"bet:{bet.id}:settle:{seq}",
                                        reference=reference))
    return plan


def bets_settle_for_market(*, bet_ids: Sequence, market_id: int, now
                           ) -> tuple[dict[str, int], list]:
    """Apply a market's current result to a batch of bets in one transaction, set-based (a
    constant number of statements whatever the batch size). Returns counts per SettleResult.

    Per bet exactly what settling it alone does: the legs on this market take the result;
    when every leg is resulted the bet is settled (or resettled: its settlement reversed,
    `bet:<id>:settle:<n>:reverse`, and the new one posted, `bet:<id>:settle:<n>`), with its
    history row and its `bet.settled` / `bet.resettled` event. A clawback the player's cash
    cannot cover leaves that bet as it was (`blocked`, logged) and settles the others.
    Bets whose stake a bonus tracks are left out and returned, for the caller to settle one
    by one (bet_settle_for_market: their returns split between cash and bonus). Returns
    (counts, those bet ids). Raises IntegrityError when a settlement's dedupe key exists
    already (nothing written: the caller settles the bets one by one, skipping that one).
    """
    counts: dict[str, int] = {}
    with service_atomic():
        locked = bets_lock(bet_ids)
        counts[SettleResult.SKIPPED] = len(set(map(str, bet_ids))) - len(locked)
        tracked = bonus_tracked_references(references=[f"bet:{b.id}" for b in locked])
        one_by_one = [b.id for b in locked if f"bet:{b.id}" in tracked]
        locked = [b for b in locked if f"bet:{b.id}" not in tracked]
        # Read after taking the bet locks: the latest committed result of the market.
        market = Market.objects.only("status", "winning_selection_ids", "settlement_version"
                                     ).get(pk=market_id)
        if market.status not in RESULTED_MARKET_STATUSES:
            counts[SettleResult.SKIPPED] += len(locked) + len(one_by_one)
            return {k: v for k, v in counts.items() if v}, []
        legs: dict = defaultdict(list)
        with connection.cursor() as cur:
            cur.execute(_BET_LEGS_SQL, [pg_array(b.id for b in locked)])
            for row in cur.fetchall():
                legs[row[0]].append(row[1:])
        reason = f"market {market_id} settlement v{market.settlement_version}"
        accounts = posting_account_refs(keys={(b.player_id, b.currency) for b in locked})
        houses = {c: system_account(AccountKind.HOUSE, c) for c in {b.currency for b in locked}}
        plans = []
        for bet in locked:
            plan = _plan(bet, legs[bet.id], market, accounts[(bet.player_id, bet.currency)],
                         houses[bet.currency])
            if plan is None:
                counts[SettleResult.SKIPPED] += 1
            else:
                plans.append(plan)
        resettled = [p for p in plans if p.result == SettleResult.RESETTLED]
        if resettled:
            undo = reversal_postings(transaction_ids=[p.bet.settle_transaction_id for p in resettled])
            for p in resettled:
                p.requests.insert(0, PostingRequest(
                    kind=TransactionKind.REVERSAL, postings=undo[p.bet.settle_transaction_id],
                    dedupe_key=f"bet:{p.bet.id}:settle:{p.bet.settle_seq + 1}:reverse",
                    reference=f"bet:{p.bet.id}", reverses_id=p.bet.settle_transaction_id,
                    reason=f"resettlement of market {market_id} v{market.settlement_version}",
                    metadata={"reverses": p.bet.settle_transaction_id}))

        _apply_plans(plans, market=market, reason=reason, now=now)
        for p in plans:
            counts[p.result] = counts.get(p.result, 0) + 1
    return {k: v for k, v in counts.items() if v}, one_by_one


def _apply_plans(plans: list[_BetPlan], *, market: Market, reason: str, now) -> None:
    """Write every plan: first the bets' own rows (legs, bets, history, events: the bets are
    locked already), then the stake-return hooks (the players' usage rows) and the ledger
    batch (their accounts), so the players' rows stay locked for the shortest time.

    A refused clawback (the player's cash no longer covers a resettlement) marks its bet
    blocked and the batch is written again without it: the savepoint undoes the attempt
    (its bet rows and counters too), so a blocked bet changes nothing."""
    while True:
        live = [p for p in plans if p.result != SettleResult.BLOCKED]
        requests = [r for p in live for r in p.requests]
        owner = [p for p in live for _ in p.requests]
        try:
            with transaction.atomic():  # the savepoint a blocked clawback rolls back to
                txn_ids = ledger_transaction_ids(len(requests))
                # Each plan's settlement is its last request (after the reversal, if any).
                settlement = {p.bet.id: txn_id for p, txn_id in zip(owner, txn_ids, strict=True)}
                _write_bet_rows(live, settlement, market=market, reason=reason, now=now)
                hooks_run("STAKE_RETURN_BATCH_HOOKS", now=now,
                          returns=[p.stake_return for p in live if p.stake_return])
                ledger_post_batch(requests, transaction_ids=txn_ids)
            return
        except InsufficientFunds as exc:
            blocked = owner[exc.request_index]  # type: ignore[attr-defined]
            blocked.result = SettleResult.BLOCKED
            logger.warning("bet resettlement blocked: player cash cannot cover the clawback",
                           extra={"bet_id": str(blocked.bet.id), "market_id": market.pk})


_BET_LEGS_SQL = """
SELECT bet_id, id, market_id, selection_id, accepted_odds, result, settled_version
  FROM betting_betleg WHERE bet_id = ANY(%s::uuid[]) ORDER BY bet_id, id
"""
_BET_SETTLE_SQL = (
    "UPDATE betting_bet AS b SET status = v.status, payout = v.payout, settle_seq = v.seq, "
    "settle_transaction_id = v.txn, settled_at = %s FROM "
    + json_rows_sql(("id", "uuid"), ("status", "varchar"), ("payout", "bigint"), ("seq", "int"),
                    ("txn", "bigint")) + " AS v WHERE b.id = v.id"
)
_LEGS_SETTLE_SQL = (
    "UPDATE betting_betleg AS l SET result = v.result, settled_version = %s FROM "
    + json_rows_sql(("id", "bigint"), ("result", "varchar")) + " AS v WHERE l.id = v.id"
)


def _bet_history_sql() -> str:
    # The row django-simple-history writes on bet.save(), for every bet of the batch.
    columns = [f.column for f in Bet._meta.concrete_fields]
    cols = ", ".join(columns)
    return (f"INSERT INTO {Bet.history.model._meta.db_table} ({cols}, history_date, "
            f"history_change_reason, history_type, history_user_id, history_channel) "
            f"SELECT {cols}, %s, %s, '~', NULL, %s FROM betting_bet WHERE id = ANY(%s::uuid[]) "
            "ORDER BY id")


def _write_bet_rows(plans: list[_BetPlan], settlement: dict, *, market: Market, reason: str,
                    now) -> None:
    """Legs, bets, bet history and events of the plans: one statement each."""
    with connection.cursor() as cur:
        leg_rows = [list(leg) for p in plans for leg in p.legs]
        if leg_rows:
            cur.execute(_LEGS_SETTLE_SQL, [market.settlement_version, json_rows(leg_rows)])
        settled = [p for p in plans if p.outcome is not None]
        if not settled:
            return
        cur.execute(_BET_SETTLE_SQL, [now, json_rows([
            [p.bet.id, p.outcome, p.payout, p.bet.settle_seq + 1, settlement[p.bet.id]]
            for p in settled])])
        cur.execute(_bet_history_sql(), [now, reason, history_channel(),
                                         pg_array(p.bet.id for p in settled)])
    events = []
    for p in settled:
        bet = p.bet
        payload = {"bet_id": str(bet.id), "player_id": bet.player_id, "currency": bet.currency,
                   "stake": bet.stake}
        if p.result == SettleResult.SETTLED:
            topic = "bet.settled"
            payload["payout"] = p.payout
        else:
            topic = "bet.resettled"
            payload["payout_delta"] = p.payout - (bet.payout or 0)
        payload.update(outcome=p.outcome, occurred_at=now.isoformat())
        events.append(EventSpec(topic=topic, aggregate_type="bet", aggregate_id=bet.id,
                                payload=payload))
    emit_many(events)


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
    BETTING_SETTLEMENT_BATCH bets per transaction. Safe to run twice or concurrently:
    finished bets are skipped, and a batch that meets a settlement posted already (its
    dedupe key) is settled again bet by bet."""
    market = Market.objects.filter(pk=market_id).first()
    version = market.settlement_version if market else 0
    report = SettlementReport(market_id=market_id, settlement_version=version)
    if bet_ids is None:
        bet_ids = market_unsettled_bet_ids(market_id=market_id)
    size = settings.BETTING_SETTLEMENT_BATCH
    for start in range(0, len(bet_ids), size):
        batch = bet_ids[start:start + size]
        try:
            counts, one_by_one = bets_settle_for_market(bet_ids=batch, market_id=market_id,
                                                        now=now)
        except IntegrityError as exc:
            if "dedupe_key" not in str(exc):
                raise
            counts, one_by_one = {}, batch
        for bet_id in one_by_one:
            result = bet_settle_for_market(bet_id=bet_id, market_id=market_id, now=now)
            counts[result] = counts.get(result, 0) + 1
        for result, n in counts.items():
            report.counts[result] = report.counts.get(result, 0) + n
    return report
