"""Issue 11: settlement work is never lost. Settling with the broker down answers 202 (the
result is committed; before, the bare on_commit(.delay) turned it into a 500 with the bets
left open), and the beat re-drive settles every resulted market left with open bets."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from betting import services
from betting.models import Bet
from betting.tasks import market_settlement_redrive_task
from config.celery import app
from tests.e2e.procs import free_port
from tests.factories import balances

from .conftest import make_market, selections_of
from .test_settlement import bet

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker_down():
    """Point this process's Celery producer at a port where nothing listens."""
    before = app.conf.broker_url, app.conf.broker_write_url
    app.conf.broker_url = app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
    app._pool = None
    app.amqp._producer_pool = None
    yield
    app.conf.broker_url, app.conf.broker_write_url = before
    app._pool = None
    app.amqp._producer_pool = None


def test_settling_with_the_broker_down_is_202_and_the_redrive_settles(player, trader_api, settings,
                                                                     broker_down, eager_celery):
    app.conf.task_always_eager = False  # the broker really is needed (and down) for the settle
    market = make_market()
    home, away = selections_of(market)
    won, lost = bet(player, [home], stake=1_000), bet(player, [away], stake=500)

    res = trader_api.post(f"/api/v1/backoffice/markets/{market.pk}/settle/",
                          {"winning_selection_ids": [home.pk]}, format="json")
    assert res.status_code == 202, res.content
    market.refresh_from_db()
    assert market.status == "settled"
    assert Bet.objects.filter(status="open").count() == 2  # the task was lost with the broker

    now = timezone.now()
    # Not yet idle long enough: left to the task that may still come.
    assert services.market_settlement_redrive(now=now, idle_s=60) == []
    later = now + timedelta(seconds=61)
    assert services.market_settlement_redrive(now=later, idle_s=60) == [market.pk]

    app.conf.task_always_eager = True  # the broker is back: beat's re-drive runs the task
    settings.BETTING_SETTLEMENT_REDRIVE_AFTER_S = -120  # "later" without sleeping
    assert market_settlement_redrive_task() == [market.pk]
    assert (Bet.objects.get(pk=won.pk).status, Bet.objects.get(pk=lost.pk).status) == ("won", "lost")
    assert balances(player) == {"cash": 10_000 - 1_500 + 3_200, "reserved": 0, "bonus": 0}
    assert services.market_settlement_redrive(now=later + timedelta(hours=1), idle_s=60) == []


def test_redrive_leaves_open_markets_and_markets_making_progress_alone(player):
    open_market = make_market(event_name="open")
    bet(player, selections_of(open_market)[:1], stake=100)
    busy = make_market(event_name="busy", starts_at=timezone.now() - timedelta(hours=1))
    home, _ = selections_of(busy)
    first, second = bet(player, [home], stake=100), bet(player, [home], stake=100)
    services.market_settle(market_id=busy.pk, winning_selection_ids=[home.pk], actor=None,
                           now=timezone.now() - timedelta(minutes=10))
    # The result is old, but one bet was just settled: the run is alive.
    services.bet_settle_for_market(bet_id=first.pk, market_id=busy.pk, now=timezone.now())
    assert services.market_settlement_redrive(now=timezone.now(), idle_s=60) == []
    assert Bet.objects.get(pk=second.pk).status == "open"
    later = timezone.now() + timedelta(seconds=61)
    assert services.market_settlement_redrive(now=later, idle_s=60) == [busy.pk]


def test_visibility_timeout_fits_the_longest_task_and_no_more():
    """Redelivery of a dead worker's task after at most the longest task's time limit plus a
    margin (was a fixed hour), and never while a live run may still be going."""
    app.loader.import_default_modules()
    limits = [t.time_limit or app.conf.task_time_limit for name, t in app.tasks.items()
              if not name.startswith("celery.")]
    longest = max(limit for limit in limits if limit)
    timeout = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert longest < timeout <= longest + 120
