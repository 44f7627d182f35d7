"""Trading backoffice: events, prices with history, suspension, settle requests; traders only."""

import pytest
from django.utils import timezone

from betting import services
from betting.models import Event, Market, MarketSettlement, Selection
from tests.factories import make_staff
from users.roles import SUPPORT

from .conftest import make_market, selections_of

pytestmark = pytest.mark.django_db

BO = "/api/v1/backoffice"

EVENT = {
    "name": "Rovers v United", "starts_at": "2030-05-01T18:00:00Z", "reason": "fixture list",
    "markets": [
        {"name": "Match result", "max_stake": "500.00",
         "selections": [{"name": "Rovers", "odds": "2.10"}, {"name": "Draw", "odds": "3.2"},
                        {"name": "United", "odds": "3.600"}]},
        {"name": "Over/under 2.5", "selections": [{"name": "Over", "odds": "1.85"},
                                                  {"name": "Under", "odds": "1.95"}]},
    ],
}


def test_trader_creates_an_event_with_nested_markets(trader_api):
    response = trader_api.post(f"{BO}/events/", EVENT, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Rovers v United"
    assert [m["name"] for m in body["markets"]] == ["Match result", "Over/under 2.5"]
    assert body["markets"][0]["max_stake"] == "500.00"
    assert body["markets"][1]["max_stake"] == "1000.00"  # model default
    assert [(s["name"], s["odds"], s["odds_version"]) for s in body["markets"][0]["selections"]] == [
        ("Rovers", "2.100", 1), ("Draw", "3.200", 1), ("United", "3.600", 1)]
    assert all(m["status"] == "open" for m in body["markets"])
    selection = Selection.objects.get(pk=body["markets"][0]["selections"][0]["id"])
    assert selection.history.get().history_change_reason == "fixture list"


@pytest.mark.parametrize("bad_odds", ["1.000", "abc", 2.1, "1000.5"])
def test_event_with_bad_odds_creates_nothing(trader_api, bad_odds):
    body = {**EVENT, "markets": [{"name": "M", "selections": [{"name": "S", "odds": bad_odds}]}]}
    response = trader_api.post(f"{BO}/events/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_odds"
    assert (Event.objects.count(), Market.objects.count(), Selection.objects.count()) == (0, 0, 0)


def test_odds_update_bumps_version_and_keeps_history(trader_api, trader):
    home, _ = selections_of(make_market())
    response = trader_api.patch(f"{BO}/selections/{home.pk}/", {"odds": "1.8", "reason": "goal"},
                                format="json")
    assert response.status_code == 200
    assert (response.json()["odds"], response.json()["odds_version"]) == ("1.800", 2)
    trader_api.patch(f"{BO}/selections/{home.pk}/", {"odds": "2.05"}, format="json")
    history = list(home.history.order_by("history_id"))
    assert [(str(h.odds), h.odds_version) for h in history] == [
        ("3.200", 1), ("1.800", 2), ("2.050", 3)]
    assert [h.history_user_id for h in history[1:]] == [trader.pk, trader.pk]
    assert history[1].history_change_reason == "goal"


def test_unchanged_odds_do_not_bump_the_version(trader_api):
    home, _ = selections_of(make_market())
    response = trader_api.patch(f"{BO}/selections/{home.pk}/", {"odds": "3.200"}, format="json")
    assert response.json()["odds_version"] == 1
    assert home.history.count() == 1


def test_odds_update_refused_on_a_resulted_market(trader_api):
    market = make_market()
    home, _ = selections_of(market)
    services.market_settle(market_id=market.pk, void=True, actor=None, reason="abandoned",
                           now=timezone.now())
    response = trader_api.patch(f"{BO}/selections/{home.pk}/", {"odds": "2.0"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "market_closed")
    home.refresh_from_db()
    assert (home.odds_version, str(home.odds)) == (1, "3.200")


def test_suspend_and_resume(trader_api):
    market = make_market()
    url = f"{BO}/markets/{market.pk}"
    response = trader_api.post(f"{url}/suspend/", {"reason": "var check"}, format="json")
    assert (response.status_code, response.json()["status"]) == (200, "suspended")
    again = trader_api.post(f"{url}/suspend/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
    assert trader_api.post(f"{url}/resume/", {}, format="json").json()["status"] == "open"
    reasons = [h.history_change_reason for h in market.history.order_by("history_id")]
    assert reasons == ["created", "var check", "resume"]


def test_settle_request_is_accepted_and_validated(trader_api):
    market = make_market()
    home, _ = selections_of(market)
    other, _ = selections_of(make_market(event_name="other"))
    url = f"{BO}/markets/{market.pk}/settle/"
    for bad in ({}, {"winning_selection_ids": [home.pk], "void": True},
                {"winning_selection_ids": [other.pk]}):
        response = trader_api.post(url, bad, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "invalid_selection")
    assert MarketSettlement.objects.count() == 0
    response = trader_api.post(url, {"winning_selection_ids": [home.pk]}, format="json")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["settlement_version"],
            response.json()["changed"]) == ("settled", 1, True)
    response = trader_api.post(url, {"winning_selection_ids": [home.pk]}, format="json")
    assert (response.status_code, response.json()["changed"]) == (202, False)
    assert MarketSettlement.objects.count() == 1
    missing = trader_api.post(f"{BO}/markets/999999/settle/", {"void": True, "reason": "r"},
                              format="json")
    assert (missing.status_code, missing.json()["code"]) == (404, "market_not_found")


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/events/", EVENT),
    ("patch", "/selections/{sel}/", {"odds": "2.0"}),
    ("post", "/markets/{market}/suspend/", {}),
    ("post", "/markets/{market}/resume/", {}),
    ("post", "/markets/{market}/settle/", {"void": True, "reason": "abandoned"}),
])
def test_only_traders_may_trade(make_api, player, method, path, body):
    market = make_market()
    home, _ = selections_of(market)
    url = BO + path.format(sel=home.pk, market=market.pk)
    for user in (player, make_staff(SUPPORT)):
        response = getattr(make_api(user), method)(url, body, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    market.refresh_from_db()
    home.refresh_from_db()
    assert (market.status, home.odds_version, Event.objects.count()) == ("open", 1, 1)
