"""Odds arithmetic: accumulator products, void legs and rounding, table-driven."""

from decimal import Decimal as D

import pytest

from betting.errors import InvalidOdds
from betting.odds import combined_odds, limit_to_minor, odds_str, parse_odds, payout_round_down
from betting.services import bet_outcome


@pytest.mark.parametrize(("raw", "expected"), [
    ("3.2", D("3.2")), ("3.200", D("3.2")), ("1.001", D("1.001")), ("1000", D("1000")),
    ("1000.000", D("1000")), ("17", D("17")),
])
def test_parse_odds_accepts(raw, expected):
    assert parse_odds(raw) == expected


@pytest.mark.parametrize("raw", [
    3.2, 3, None, "", "1", "1.000", "0.5", "1000.001", "1001", "3.2001", "03.2", "3,2", "-2.0",
    "3.2e0", "NaN", "Infinity", " 3.2", "3.", ".5",
])
def test_parse_odds_refuses(raw):
    with pytest.raises(InvalidOdds):
        parse_odds(raw)


@pytest.mark.parametrize(("value", "text"), [
    (D("3.2"), "3.200"), (D("2"), "2.000"), (D("1.001"), "1.001"),
    (D("1.5") * D("1.333"), "1.9995"), (combined_odds([D("1.001")] * 10), "1.010045120210252210120045010001"),
])
def test_odds_str(value, text):
    assert odds_str(value) == text


@pytest.mark.parametrize(("legs", "product"), [
    ([D("3.2")], D("3.2")),
    ([D("2.5"), D("1.8")], D("4.5")),
    ([D("1.333"), D("1.333"), D("1.333")], D("2.368593037")),
    ([D("1000")] * 10, D("1e30")),
    ([D("1.001")] * 10, D("1.010045120210252210120045010001")),  # exact, 30 decimals
    ([], D("1")),
])
def test_combined_odds_is_exact_product(legs, product):
    assert combined_odds(legs) == product


@pytest.mark.parametrize(("stake", "odds", "payout"), [
    (1000, D("3.2"), 3200),
    (333, D("1.5"), 499),  # 499.5 rounds down
    (1, D("1.999"), 1),
    (999, D("1.001"), 999),  # 999.999 rounds down, never up
    (10**15, combined_odds([D("1.001")] * 10), 1010045120210252),  # no 28-digit context rounding
    (7, D("2.368593037"), 16),
])
def test_payout_rounds_down(stake, odds, payout):
    assert payout_round_down(stake, odds) == payout


W, L, V, P = "won", "lost", "void", "pending"


@pytest.mark.parametrize(("stake", "legs", "expected"), [
    (1000, [(W, D("3.2"))], ("won", 3200)),
    (1000, [(L, D("3.2"))], ("lost", 0)),
    (1000, [(V, D("3.2"))], ("void", 1000)),
    (1000, [(P, D("3.2"))], (None, None)),
    (1000, [(W, D("2.5")), (W, D("1.8"))], ("won", 4500)),
    (1000, [(W, D("2.5")), (V, D("1.8"))], ("won", 2500)),  # a void leg counts as 1.00
    (1000, [(V, D("2.5")), (V, D("1.8"))], ("void", 1000)),  # all void: the stake back
    (1000, [(W, D("2.5")), (L, D("1.8"))], ("lost", 0)),
    (1000, [(V, D("2.5")), (L, D("1.8"))], ("lost", 0)),
    (1000, [(W, D("2.5")), (P, D("1.8"))], (None, None)),  # wait for every leg
    (1000, [(L, D("2.5")), (P, D("1.8"))], (None, None)),
    (333, [(W, D("1.5")), (W, D("1.333")), (V, D("9.9"))], ("won", 665)),  # 665.8335 down
    (1, [(W, D("1.001"))] * 10, ("won", 1)),
])
def test_bet_outcome_table(stake, legs, expected):
    assert bet_outcome(stake=stake, legs=legs) == expected


@pytest.mark.parametrize(("limit", "currency", "round_up", "minor"), [
    # Limits are written in BASE_CURRENCY (USD) and converted through CURRENCY_RATES: a market
    # limit of 1000 is 1000 USD, not 1000 BTC (issue 11).
    (D("0.10"), "USD", True, 10), (D("1000.00"), "EUR", False, 95_000),
    (D("0.10"), "BTC", True, 100), (D("1000.00"), "BTC", False, 1_000_000),
    (D("0.3333"), "BTC", True, 334), (D("0.3333"), "BTC", False, 333),
    (D("5.00"), "USDT", False, 5_000_000),
])
def test_limit_to_minor(settings, limit, currency, round_up, minor):
    settings.BASE_CURRENCY = "USD"
    settings.CURRENCY_RATES = "EUR:0.95,USDT:1,BTC:0.00001"
    assert limit_to_minor(limit, currency, round_up=round_up) == minor
