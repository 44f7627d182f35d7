"""The batch form of the stake-return counters (a batch settlement) leaves the usage rows
exactly as one call per stake would."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from responsible import gates
from responsible.models import Usage
from tests.factories import make_player

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)  # a Wednesday
COLUMNS = [f"{m}_{p}" for m in ("deposit", "wager", "loss") for p in ("day", "week", "month")]


def _counters(player):
    row = Usage.objects.filter(player=player, currency="USD").first()
    return None if row is None else {c: getattr(row, c) for c in COLUMNS + ["day_start"]}


def _seed(player):
    """Usage of an earlier day this week: stakes of 5_000 counted as wager and loss."""
    gates.usage_add_and_check(player_id=player.pk, currency="USD", now=NOW - timedelta(days=1),
                              add={"wager": 5_000, "loss": 5_000}, kinds=[])


def test_batch_of_stake_returns_equals_one_call_each():
    players = [make_player() for _ in range(4)]
    singles, batched = players[:2], players[2:]
    returns = lambda p: [  # noqa: E731
        {"player_id": p.pk, "currency": "USD", "stake": 1_000, "payout": 2_500,
         "staked_at": NOW - timedelta(days=1), "void": False},
        {"player_id": p.pk, "currency": "USD", "stake": 700, "payout": 700,
         "staked_at": NOW - timedelta(days=1), "void": True},  # staked yesterday: week, month
        {"player_id": p.pk, "currency": "USD", "stake": 300, "payout": -800,
         "staked_at": NOW, "void": False},  # a resettlement that claws back 800
        {"player_id": p.pk, "currency": "USD", "stake": 300, "payout": 0,
         "staked_at": NOW, "void": False},  # a loss: nothing comes back
    ]
    with transaction.atomic():
        for p in players[:3]:  # the last player has no usage row yet
            _seed(p)
        for p in singles:
            for r in returns(p):
                gates.stake_returned(**r, now=NOW)
        gates.stakes_returned(returns=[r for p in batched for r in returns(p)], now=NOW)
    assert _counters(batched[0]) == _counters(singles[0])
    assert _counters(batched[0])["loss_day"] == -2_500 + 800  # the day rolled over
    assert _counters(batched[0])["wager_week"] == 5_000 - 700
    # A player without a usage row gets the row a first stake return would create.
    fresh_single = make_player()
    with transaction.atomic():
        for r in returns(fresh_single):
            gates.stake_returned(**r, now=NOW)
    assert _counters(batched[1]) == _counters(fresh_single)
