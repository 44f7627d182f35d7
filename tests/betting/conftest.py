"""Sportsbook fixtures: events built through the trading service, a trader client, and a
Celery app that runs the settlement task inline (so a settle request is fully observable)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from betting import services
from betting.models import Market
from tests.factories import make_player, make_staff
from users.roles import TRADER


def make_market(selections=(("Home", "3.200"), ("Away", "1.800")), *, name="Match result",
                event_name="Rovers v United", starts_at=None, in_play=True, **limits) -> Market:
    """An event with one open market; returns the market (selections ordered by id).

    By default the event started a minute ago and the market is in-play: it takes bets and
    can be resulted at once. A pre-match market: `starts_at=<future>, in_play=False`.
    """
    now = timezone.now()
    event = services.event_create(
        name=event_name, starts_at=starts_at or now - timedelta(minutes=1), actor=None, now=now,
        markets=[services.MarketSpec(
            name=name, selections=[services.SelectionSpec(n, Decimal(o)) for n, o in selections],
            in_play=in_play, **{k: Decimal(v) for k, v in limits.items()},
        )],
    )
    return event.markets.get()


def selections_of(market: Market):
    return list(market.selections.order_by("id"))


@pytest.fixture
def player(db):
    """A player with 100.00 USD."""
    return make_player(funds={"USD": 10_000})


@pytest.fixture
def trader(db):
    return make_staff(TRADER)


@pytest.fixture
def trader_api(trader, make_api):
    return make_api(trader)


@pytest.fixture
def eager_celery():
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before
