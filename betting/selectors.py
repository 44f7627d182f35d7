"""Reads of the sportsbook."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .errors import BetNotFound
from .models import Bet, BetLeg, Event, Market, MarketStatus, Selection

LISTED_MARKET_STATUSES = (MarketStatus.OPEN, MarketStatus.SUSPENDED)


def event_list() -> QuerySet[Event]:
    """Events with at least one open or suspended market, with those markets and prices."""
    markets = Market.objects.filter(status__in=LISTED_MARKET_STATUSES).prefetch_related(
        Prefetch("selections", queryset=Selection.objects.order_by("id"))
    ).order_by("id")
    return (
        Event.objects.filter(markets__status__in=LISTED_MARKET_STATUSES).distinct()
        .prefetch_related(Prefetch("markets", queryset=markets))
        .order_by("starts_at", "id")
    )


def _bets_with_legs() -> QuerySet[Bet]:
    legs = BetLeg.objects.select_related("selection", "market", "event").order_by("id")
    return Bet.objects.prefetch_related(Prefetch("legs", queryset=legs))


def bet_list(*, player) -> QuerySet[Bet]:
    return _bets_with_legs().filter(player=player).order_by("-created_at", "-id")


def bet_get(*, player, bet_id) -> Bet:
    """The player's own bet. Raises BetNotFound (also for another player's bet)."""
    bet = _bets_with_legs().filter(player=player, pk=bet_id).first()
    if bet is None:
        raise BetNotFound()
    return bet
