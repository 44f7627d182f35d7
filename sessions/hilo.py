"""The demo game `hilo`: rules, randomness and return-to-player.

A round has two steps, so the stake really is held while the round is open:
1. bet: the stake moves from cash to reserved and the server draws the first card;
2. guess "higher" or "lower": the server draws the next card and settles the round.

Cards are ranks 1 (ace) to 13 (king), each drawn independently and uniformly with
`secrets.randbelow` (an infinite deck: the first card does not change the odds of the next).
A guess wins when the next card is strictly higher (or strictly lower); an equal rank loses.
A guess that cannot win (higher on a king, lower on an ace) is refused and the round stays
open.

Payout of a winning guess = floor(stake * 13 * 97 / (100 * w)), where w is the number of
winning ranks (13 - card for higher, card - 1 for lower). The probability of winning is w/13,
so the expected return is 97 % of the stake for every card and every possible guess, less at
most one minor unit of rounding down: return-to-player 97 %.
"""

from __future__ import annotations

import secrets
from decimal import ROUND_DOWN, Decimal

from .models import HiloChoice, RoundOutcome

RANKS = 13
RTP_PERCENT = 97
CARD_NAMES = {1: "A", 11: "J", 12: "Q", 13: "K"}


def draw_card() -> int:
    """Draw a rank 1..13 from the operating system's CSPRNG."""
    return secrets.randbelow(RANKS) + 1


def winning_ranks(*, card: int, choice: str) -> int:
    if choice == HiloChoice.HIGHER:
        return RANKS - card
    if choice == HiloChoice.LOWER:
        return card - 1
    raise ValueError(f"unknown choice {choice!r}")


def win_payout(*, stake: int, card: int, choice: str) -> int:
    """What a winning guess pays, in minor units, rounded down."""
    wins = winning_ranks(card=card, choice=choice)
    if wins <= 0:
        raise ValueError("this guess cannot win")
    return stake * RANKS * RTP_PERCENT // (100 * wins)


def multiplier(*, card: int, choice: str) -> str | None:
    """The payout multiplier shown to the player (4 decimals, rounded down), None if impossible."""
    wins = winning_ranks(card=card, choice=choice)
    if wins <= 0:
        return None
    value = Decimal(RANKS * RTP_PERCENT) / Decimal(100 * wins)
    return str(value.quantize(Decimal("0.0001"), rounding=ROUND_DOWN))


def resolve(*, stake: int, card: int, choice: str, next_card: int) -> tuple[str, int]:
    """Return (outcome, payout) of a guess given the next card."""
    if choice == HiloChoice.HIGHER:
        won = next_card > card
    else:
        won = next_card < card
    if won:
        return RoundOutcome.WON, win_payout(stake=stake, card=card, choice=choice)
    return RoundOutcome.LOST, 0
