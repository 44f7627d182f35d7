"""Admin actions call the services and are offered to traders only; the demo seed is idempotent."""

import io

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from betting.demo import seed
from betting.models import Event, Market, Selection
from tests.factories import make_staff
from users.roles import SUPPORT, TRADER

from .conftest import make_market

pytestmark = pytest.mark.django_db


def _admin_request(user):
    request = RequestFactory().post("/admin/betting/market/")
    request.user = user
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    return request


def test_market_actions_are_for_traders_only():
    model_admin = site._registry[Market]
    trader_actions = model_admin.get_actions(_admin_request(make_staff(TRADER)))
    support_actions = model_admin.get_actions(_admin_request(make_staff(SUPPORT)))
    assert {"suspend_markets", "resume_markets", "void_markets"} <= set(trader_actions)
    assert not {"suspend_markets", "resume_markets", "void_markets"} & set(support_actions)


def test_suspend_action_goes_through_the_service_and_records_who():
    trader = make_staff(TRADER)
    market = make_market()
    model_admin = site._registry[Market]
    request = RequestFactory().post("/admin/betting/market/", {"reason": "goal scored"})
    request.user = trader
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    model_admin.suspend_markets(request, Market.objects.filter(pk=market.pk))
    market = Market.objects.get(pk=market.pk)
    assert market.status == "suspended"
    latest = market.history.order_by("-history_id").first()
    assert (latest.history_user_id, latest.history_change_reason) == (trader.pk, "goal scored")


def test_demo_seed_is_idempotent():
    first = seed(stdout=io.StringIO())
    counts = (Event.objects.count(), Market.objects.count(), Selection.objects.count())
    assert seed(stdout=io.StringIO()) == first
    assert (Event.objects.count(), Market.objects.count(), Selection.objects.count()) == counts
    assert counts[0] == 3
