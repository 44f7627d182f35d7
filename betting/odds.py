"""Odds arithmetic: strict parsing, exact products, payouts rounded down.

Odds are Decimals with at most 3 decimals. An accumulator's odds are the exact product of
its legs' odds (a void leg counts as 1.00), so up to 30 decimals: every product and payout
is computed with a wide local context so that no intermediate rounding can round a payout
up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, localcontext

from common.money import base_amount_to_minor, multiply_odds_round_down

from .errors import InvalidOdds
from .models import ODDS_MAX, ODDS_MIN

_ODDS_RE = re.compile(r"[1-9][0-9]{0,3}(\.[0-9]{1,3})?\Z")
_WIDE_PRECISION = 200


def parse_odds(raw: object) -> Decimal:
    """Turn an API odds string ("3.20") into a Decimal. Raises InvalidOdds."""
    if not isinstance(raw, str) or not _ODDS_RE.match(raw):
        raise InvalidOdds()
    value = Decimal(raw)
    if not ODDS_MIN <= value <= ODDS_MAX:
        raise InvalidOdds()
    return value


def odds_str(value: Decimal) -> str:
    """Odds for the API: at least 3 decimals ("3.200"), more only when an exact product has them."""
    with localcontext() as ctx:
        ctx.prec = _WIDE_PRECISION
        if value == value.quantize(Decimal("0.001")):
            return f"{value.quantize(Decimal('0.001')):f}"
        return f"{value.normalize():f}"


def combined_odds(odds: Iterable[Decimal]) -> Decimal:
    """The exact product of the given odds (1 for none: every leg void)."""
    with localcontext() as ctx:
        ctx.prec = _WIDE_PRECISION
        product = Decimal(1)
        for value in odds:
            product *= value
        return product


def payout_round_down(stake: int, odds: Decimal) -> int:
    """stake x odds in minor units, rounded down, with no intermediate rounding."""
    with localcontext() as ctx:
        ctx.prec = _WIDE_PRECISION
        return multiply_odds_round_down(stake, odds)


def limit_to_minor(limit: Decimal, currency: str, *, round_up: bool = False) -> int:
    """A market limit, written in BASE_CURRENCY ("1000.00"), as minor units of `currency`
    through CURRENCY_RATES (common.money): a minimum rounds up, a maximum down."""
    return base_amount_to_minor(limit, currency, round_up=round_up)
