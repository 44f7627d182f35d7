"""Reads of game sessions. Balances come from the primary: money decisions follow them."""

from __future__ import annotations

from dataclasses import dataclass

from wallet.models import Account, AccountKind

from .errors import SessionNotFound
from .models import GameRound, GameSession, RoundStatus


@dataclass(frozen=True)
class Balance:
    available: int
    reserved: int


def player_balance(*, player_id: int, currency: str) -> Balance:
    rows = dict(
        Account.objects.using("default")
        .filter(owner_id=player_id, currency=currency,
                kind__in=[AccountKind.CASH, AccountKind.RESERVED])
        .values_list("kind", "balance")
    )
    return Balance(available=rows.get(AccountKind.CASH, 0), reserved=rows.get(AccountKind.RESERVED, 0))


def game_session_get(*, session_id, player=None) -> GameSession:
    """The session (the player's own when `player` is given). Raises SessionNotFound."""
    qs = GameSession.objects.using("default").filter(pk=session_id)
    if player is not None:
        qs = qs.filter(player=player)
    session = qs.first()
    if session is None:
        raise SessionNotFound()
    return session


def game_round_open_or_none(*, session_id) -> GameRound | None:
    return (
        GameRound.objects.using("default")
        .filter(session_id=session_id, status=RoundStatus.OPEN)
        .first()
    )


def game_session_list(*, player, limit: int = 20) -> list[GameSession]:
    return list(GameSession.objects.filter(player=player).order_by("-started_at")[:limit])
