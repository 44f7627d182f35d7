"""Row locks of the sportsbook, in one place and in a fixed order.

Bet placement share-locks the selections it prices (and their markets): many bets on one
selection proceed together, while an odds update or a suspension (which take FOR UPDATE /
UPDATE on the same rows) waits for the bets in flight, and a bet waits for a price change
in flight and then reads the committed new price. Settlement locks a batch of bets in id
order (two runs over overlapping batches wait for each other, never deadlock), then the
players' usage rows in player order, then their accounts in id order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection

from .models import Bet, Market, Selection


@dataclass(frozen=True)
class PricedSelection:
    selection_id: int
    odds: Decimal
    odds_version: int
    market_id: int
    market_status: str
    in_play: bool
    event_id: int
    event_starts_at: datetime
    min_stake: Decimal
    max_stake: Decimal
    max_payout: Decimal
    # Names, so the accepted bet is shown without reading it back.
    selection_name: str
    market_name: str
    event_name: str


# The event row is read, not locked: its name, and its start (changed only by staff in the
# admin, before any bet could be affected; the market's in_play flag is locked with it).
_PRICE_SQL = """
SELECT s.id, s.odds, s.odds_version, m.id, m.status, m.in_play, m.event_id, e.starts_at,
       m.min_stake, m.max_stake, m.max_payout, s.name, m.name, e.name
  FROM betting_selection s
  JOIN betting_market m ON m.id = s.market_id
  JOIN betting_event e ON e.id = m.event_id
 WHERE s.id = ANY(%s)
 ORDER BY s.id
   FOR SHARE OF s, m
"""


def selections_share_lock(selection_ids: Sequence[int]) -> dict[int, PricedSelection]:
    """FOR SHARE the selections and their markets, in selection-id order."""
    with connection.cursor() as cur:
        cur.execute(_PRICE_SQL, [sorted(set(selection_ids))])
        rows = cur.fetchall()
    return {row[0]: PricedSelection(*row) for row in rows}


def selection_lock(selection_id: int) -> Selection | None:
    return (
        Selection.objects.select_for_update(of=("self",)).select_related("market")
        .filter(pk=selection_id).first()
    )


def market_lock(market_id: int) -> Market | None:
    return Market.objects.select_for_update().filter(pk=market_id).first()


def bet_lock(bet_id) -> Bet | None:
    return Bet.objects.select_for_update().filter(pk=bet_id).first()


@dataclass
class LockedBet:
    id: object
    player_id: int
    currency: str
    stake: int
    status: str
    payout: int | None
    settle_seq: int
    settle_transaction_id: int | None
    created_at: object


_BETS_LOCK_SQL = """
SELECT id, player_id, currency, stake, status, payout, settle_seq, settle_transaction_id, created_at
  FROM betting_bet WHERE id = ANY(%s::uuid[]) ORDER BY id FOR UPDATE
"""


def bets_lock(bet_ids: Sequence) -> list[LockedBet]:
    """FOR UPDATE a batch of bets in id order; returns those that exist, in id order."""
    with connection.cursor() as cur:
        cur.execute(_BETS_LOCK_SQL, ["{" + ",".join(str(b) for b in bet_ids) + "}"])
        return [LockedBet(*row) for row in cur.fetchall()]
