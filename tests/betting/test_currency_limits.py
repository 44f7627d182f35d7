"""Issue 11: market stake limits are currency-aware. Before, a market's 0.10-1000 limits
applied as BTC units too: 500 BTC could be staked, 0.00001 BTC could not."""


import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from betting import services
from betting.errors import StakeOutOfRange
from betting.models import Bet
from tests.factories import balances, make_player

from .conftest import make_market, selections_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rates(settings):
    settings.BASE_CURRENCY = "USD"
    settings.CURRENCY_RATES = "EUR:0.95,USDT:1,BTC:0.00001"


def _bet(player, selection, stake, currency="BTC"):
    return services.bet_place(player=player, legs=[services.LegRequest(selection.pk, selection.odds)],
                              stake=stake, currency=currency, odds_change="none", now=timezone.now())


def test_btc_stakes_obey_the_market_limits_converted_from_the_base_currency():
    player = make_player(funds={"BTC": 600 * 10**8})
    home, _ = selections_of(make_market())  # limits 0.10 .. 1000.00 USD
    with pytest.raises(StakeOutOfRange) as exc:
        _bet(player, home, 500 * 10**8)  # 500 BTC: far above 1000 USD
    assert exc.value.extra["max_stake"] == "0.01000000"
    assert Bet.objects.count() == 0 and balances(player, "BTC")["reserved"] == 0
    small = _bet(player, home, 1_000)  # 0.00001 BTC = 1 USD: inside the limits
    assert small.stake == 1_000
    with pytest.raises(StakeOutOfRange):
        _bet(player, home, 99)  # below 0.10 USD = 100 satoshi


def test_a_currency_without_a_rate_is_a_configuration_error(settings):
    settings.CURRENCY_RATES = "EUR:0.95"
    player = make_player(funds={"BTC": 10**8})
    home, _ = selections_of(make_market())
    with pytest.raises(ImproperlyConfigured):
        _bet(player, home, 1_000)
    assert Bet.objects.count() == 0
