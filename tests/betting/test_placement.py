"""Bet placement through the player API: prices fixed at acceptance, every refusal moves nothing."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from betting import services
from betting.models import Bet, BetLeg
from events.models import OutboxEvent
from tests.factories import balances, make_player
from wallet.models import Transaction

from .conftest import make_market, selections_of

pytestmark = pytest.mark.django_db

URL = "/api/v1/betting/bets/"


def place(client, body, key=None):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex)


def snapshot(player):
    return (balances(player), Bet.objects.count(), BetLeg.objects.count(),
            Transaction.objects.count(), OutboxEvent.objects.count())


def set_odds(selection, odds):
    return services.selection_odds_update(selection_id=selection.pk, odds=Decimal(odds),
                                          actor=None, now=timezone.now())


def test_single_is_accepted_at_its_price_and_holds_the_stake(player_api, player):
    home, _ = selections_of(make_market())
    response = place(player_api, {"selection_id": home.pk, "odds": "3.20", "stake": "10.00",
                                  "currency": "USD", "odds_change": "none"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["kind"], body["accepted_odds"], body["stake"],
            body["potential_payout"], body["payout"]) == ("open", "single", "3.200", "10.00",
                                                          "32.00", None)
    assert body["legs"][0]["accepted_odds"] == "3.200"
    assert body["legs"][0]["odds_version"] == 1
    assert balances(player) == {"cash": 10_000 - 1_000, "reserved": 1_000, "bonus": 0}
    bet = Bet.objects.get()
    assert bet.stake_transaction.kind == "bet_stake"
    assert bet.stake_transaction.dedupe_key == f"bet:{bet.pk}:stake"
    event = OutboxEvent.objects.get(topic="bet.placed")
    assert event.payload["bet_id"] == str(bet.pk) and event.payload["stake"] == 1_000
    assert event.payload["player_id"] == player.pk and event.payload["currency"] == "USD"


def test_same_idempotency_key_replays_and_places_once(player_api, player):
    home, _ = selections_of(make_market())
    body = {"selection_id": home.pk, "odds": "3.2", "stake": "10.00", "currency": "USD"}
    first = place(player_api, body, key="bet-1")
    second = place(player_api, body, key="bet-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Bet.objects.count() == 1
    assert balances(player)["reserved"] == 1_000


def test_idempotency_key_required(player_api, player):
    home, _ = selections_of(make_market())
    before = snapshot(player)
    response = player_api.post(URL, {"selection_id": home.pk, "odds": "3.2", "stake": "1.00",
                                      "currency": "USD"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert snapshot(player) == before


def test_moved_price_is_refused_with_current_odds_under_policy_none(player_api, player):
    home, _ = selections_of(make_market())
    set_odds(home, "1.80")
    before = snapshot(player)
    response = place(player_api, {"selection_id": home.pk, "odds": "3.20", "stake": "10.00",
                                  "currency": "USD", "odds_change": "none"})
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["odds"], body["odds_version"]) == ("odds_changed", "1.800", 2)
    assert snapshot(player) == before


@pytest.mark.parametrize(("policy", "new_odds", "status", "accepted"), [
    ("none", "3.300", 409, None),
    ("higher", "3.300", 201, "3.300"),  # a better price is taken
    ("higher", "3.100", 409, None),  # a worse one is not
    ("any", "3.100", 201, "3.100"),
    ("any", "3.300", 201, "3.300"),
])
def test_odds_change_policies(player_api, player, policy, new_odds, status, accepted):
    home, _ = selections_of(make_market())
    set_odds(home, new_odds)
    before = snapshot(player)
    response = place(player_api, {"selection_id": home.pk, "odds": "3.200", "stake": "10.00",
                                  "currency": "USD", "odds_change": policy})
    assert response.status_code == status, response.json()
    if accepted:
        assert response.json()["accepted_odds"] == accepted
        assert response.json()["legs"][0]["requested_odds"] == "3.200"
        assert response.json()["legs"][0]["odds_version"] == 2
    else:
        assert response.json()["code"] == "odds_changed"
        assert snapshot(player) == before


def test_suspended_market_refuses_then_resumed_market_accepts(player_api, player):
    market = make_market()
    home, _ = selections_of(market)
    services.market_suspend(market_id=market.pk, actor=None, now=timezone.now())
    before = snapshot(player)
    body = {"selection_id": home.pk, "odds": "3.2", "stake": "10.00", "currency": "USD"}
    response = place(player_api, body)
    assert response.status_code == 409
    assert response.json()["code"] == "market_suspended"
    assert snapshot(player) == before
    services.market_resume(market_id=market.pk, actor=None, now=timezone.now())
    assert place(player_api, body).status_code == 201


def test_resulted_market_refuses(player_api, player, django_capture_on_commit_callbacks):
    market = make_market()
    home, _ = selections_of(market)
    services.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                           now=timezone.now())
    before = snapshot(player)
    response = place(player_api, {"selection_id": home.pk, "odds": "3.2", "stake": "10.00",
                                  "currency": "USD"})
    assert (response.status_code, response.json()["code"]) == (409, "market_closed")
    assert snapshot(player) == before


def test_insufficient_funds_refused(make_api):
    poor = make_player(funds={"USD": 999})
    home, _ = selections_of(make_market())
    before = snapshot(poor)
    response = place(make_api(poor), {"selection_id": home.pk, "odds": "3.2", "stake": "10.00",
                                      "currency": "USD"})
    assert (response.status_code, response.json()["code"]) == (422, "insufficient_funds")
    assert snapshot(poor) == before


@pytest.mark.parametrize(("stake", "code", "extra"), [
    ("0.99", "stake_out_of_range", {"min_stake": "1.00", "max_stake": "50.00"}),
    ("50.01", "stake_out_of_range", {"min_stake": "1.00", "max_stake": "50.00"}),
    ("40.00", "payout_limit_exceeded", {"max_payout": "100.00", "potential_payout": "128.00"}),
])
def test_market_limits(player_api, player, stake, code, extra):
    home, _ = selections_of(make_market(min_stake="1.00", max_stake="50.00", max_payout="100.00"))
    before = snapshot(player)
    response = place(player_api, {"selection_id": home.pk, "odds": "3.2", "stake": stake,
                                  "currency": "USD"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == code
    assert {k: body[k] for k in extra} == extra
    assert snapshot(player) == before


@pytest.mark.parametrize(("patch", "status", "code"), [
    ({"odds": 3.2}, 400, "invalid_odds"),
    ({"odds": "3.2001"}, 400, "invalid_odds"),
    ({"stake": 10}, 400, "invalid_amount"),
    ({"stake": "10.001"}, 400, "invalid_amount"),
    ({"stake": "0"}, 400, "invalid_amount"),
    ({"currency": "XXX"}, 400, "unknown_currency"),
    ({"odds_change": "sometimes"}, 400, "invalid_request"),
    ({"selection_id": 10**9}, 404, "selection_not_found"),
])
def test_bad_input_refused(player_api, player, patch, status, code):
    home, _ = selections_of(make_market())
    before = snapshot(player)
    body = {"selection_id": home.pk, "odds": "3.2", "stake": "10.00", "currency": "USD", **patch}
    response = place(player_api, body)
    assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    assert snapshot(player) == before


def test_accumulator_odds_are_the_product(player_api, player):
    a, _ = selections_of(make_market([("A", "2.500"), ("B", "1.500")], event_name="E1"))
    c, _ = selections_of(make_market([("C", "1.800"), ("D", "2.000")], event_name="E2"))
    response = place(player_api, {"legs": [{"selection_id": a.pk, "odds": "2.5"},
                                           {"selection_id": c.pk, "odds": "1.8"}],
                                  "stake": "10.00", "currency": "USD"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["accepted_odds"], body["potential_payout"]) == (
        "accumulator", "4.500", "45.00")
    assert [leg["accepted_odds"] for leg in body["legs"]] == ["2.500", "1.800"]
    assert balances(player)["reserved"] == 1_000


def test_accumulator_refuses_two_legs_on_one_event_and_too_many_legs(player_api, player):
    a, b = selections_of(make_market([("A", "2.500"), ("B", "1.500")]))
    before = snapshot(player)
    response = place(player_api, {"legs": [{"selection_id": a.pk, "odds": "2.5"},
                                           {"selection_id": b.pk, "odds": "1.5"}],
                                  "stake": "1.00", "currency": "USD"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_legs")
    legs = [{"selection_id": selections_of(make_market(event_name=f"E{i}"))[0].pk, "odds": "3.2"}
            for i in range(11)]
    response = place(player_api, {"legs": legs, "stake": "1.00", "currency": "USD"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_legs")
    assert snapshot(player) == before


def test_accumulator_reports_every_moved_leg(player_api, player):
    a, _ = selections_of(make_market(event_name="E1"))
    c, _ = selections_of(make_market(event_name="E2"))
    set_odds(c, "2.000")
    before = snapshot(player)
    response = place(player_api, {"legs": [{"selection_id": a.pk, "odds": "3.2"},
                                           {"selection_id": c.pk, "odds": "3.2"}],
                                  "stake": "1.00", "currency": "USD"})
    assert response.status_code == 409
    assert response.json()["legs"] == [
        {"selection_id": a.pk, "odds": "3.200", "odds_version": 1},
        {"selection_id": c.pk, "odds": "2.000", "odds_version": 2},
    ]
    assert snapshot(player) == before


def test_bets_are_listed_and_shown_only_to_their_player(player_api, player, make_api):
    home, _ = selections_of(make_market())
    mine = place(player_api, {"selection_id": home.pk, "odds": "3.2", "stake": "1.00",
                              "currency": "USD"}).json()
    other = make_api(make_player(funds={"USD": 10_000}))
    theirs = place(other, {"selection_id": home.pk, "odds": "3.2", "stake": "2.00",
                           "currency": "USD"}).json()
    listed = player_api.get(URL).json()
    assert [b["id"] for b in listed["results"]] == [mine["id"]]
    assert player_api.get(f"{URL}{mine['id']}/").json()["stake"] == "1.00"
    response = player_api.get(f"{URL}{theirs['id']}/")
    assert (response.status_code, response.json()["code"]) == (404, "bet_not_found")


def test_events_list_prices_and_versions(player_api):
    market = make_market()
    home, away = selections_of(market)
    set_odds(home, "3.5")
    events = player_api.get("/api/v1/betting/events/").json()
    [event] = events
    [listed] = event["markets"]
    assert listed["status"] == "open"
    assert [(s["id"], s["odds"], s["odds_version"]) for s in listed["selections"]] == [
        (home.pk, "3.500", 2), (away.pk, "1.800", 1)]


def test_anonymous_cannot_bet(api):
    assert api.post(URL, {}, format="json").status_code == 401
