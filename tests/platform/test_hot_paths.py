"""The money path's round trips: the accepted bet is answered without reading it back, and a
Bearer request authenticates in one indexed lookup."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.betting.conftest import make_market, selections_of
from tests.factories import make_player
from users.services import token_issue

pytestmark = pytest.mark.django_db

BETS = "/api/v1/betting/bets/"


def bearer_token(player) -> str:
    """A real token, issued as the login endpoint issues it (the endpoint itself is throttled
    per address, and other tests may have used up the window)."""
    return token_issue(username=player.username, password="correct-horse-battery")


def bearer_client(player) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer_token(player)}")
    return api


def _reads_of(queries, *tables):
    return [q["sql"] for q in queries
            if q["sql"].lstrip().upper().startswith("SELECT")
            and any(f'FROM "{t}"' in q["sql"] or f"FROM {t} " in q["sql"] for t in tables)]


@pytest.mark.parametrize("legs", [1, 2])
def test_placed_bet_is_answered_without_reading_it_back(legs):
    player = make_player(funds={"USD": 10_000})
    api = bearer_client(player)
    markets = [make_market(event_name=f"Event {i}", name=f"Market {i}") for i in range(legs)]
    chosen = [selections_of(m)[0] for m in markets]
    body = ({"selection_id": chosen[0].pk, "odds": "3.20"} if legs == 1 else
            {"legs": [{"selection_id": s.pk, "odds": "3.20"} for s in chosen]})
    body.update(stake="2.00", currency="USD", odds_change="none")

    with CaptureQueriesContext(connection) as ctx:
        placed = api.post(BETS, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert placed.status_code == 201, placed.json()
    assert _reads_of(ctx.captured_queries, "betting_bet", "betting_betleg") == []

    shown = api.get(f"{BETS}{placed.json()['id']}/")
    assert placed.json() == shown.json()
    assert [leg["event"] for leg in placed.json()["legs"]] == [f"Event {i}" for i in range(legs)]
    assert [leg["market"] for leg in placed.json()["legs"]] == [f"Market {i}" for i in range(legs)]


def test_bearer_request_authenticates_in_one_query(django_assert_num_queries):
    player = make_player(funds={"USD": 1_234})
    api = bearer_client(player)
    api.get("/api/v1/wallets/")  # per-process caches warm, as in a long-lived worker
    # One indexed lookup for the token and its user, one read of the balances.
    with django_assert_num_queries(2):
        response = api.get("/api/v1/wallets/")
    assert response.status_code == 200
    assert response.json()[0]["available"] == "12.34"
