"""Force-close from the admin: support agents only, asks a reason, calls the service."""

import uuid

import pytest
from django.utils import timezone

from backoffice.roles import roles_sync
from sessions import services
from sessions.models import GameSession
from tests.backoffice.conftest import verified_client
from tests.factories import balances, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roles(db):
    roles_sync()


def live_session_with_round(player):
    session = services.game_session_start(player=player, game="hilo", currency="USD",
                                          now=timezone.now())
    services.game_round_bet(session_id=session.pk, player=player, client_round_id=uuid.uuid4(),
                            stake=600, now=timezone.now())
    return session


def test_change_form_button_force_closes_with_a_reason(player):
    session = live_session_with_round(player)
    agent = make_staff("support_agent")
    client = verified_client(agent)
    url = f"/admin/game_sessions/gamesession/{session.pk}/transition/force_close/"

    page = client.get(f"/admin/game_sessions/gamesession/{session.pk}/change/")
    assert page.status_code == 200 and b"transition/force_close/" in page.content
    assert client.post(url, {"reason": ""}).status_code == 200  # the form asks again
    assert GameSession.objects.get(pk=session.pk).status == "live"

    assert client.post(url, {"reason": "stuck after a drop"}).status_code == 302
    session = GameSession.objects.get(pk=session.pk)
    assert session.status == "closed" and session.closed_by == agent
    assert session.history.first().history_change_reason == "stuck after a drop"
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


def test_list_action_asks_a_reason_then_closes(player):
    session = live_session_with_round(player)
    client = verified_client(make_staff("support_agent"))
    data = {"action": "force_close_selected", "_selected_action": [str(session.pk)]}

    confirm = client.post("/admin/game_sessions/gamesession/", data)
    assert confirm.status_code == 200 and b"Force-close" in confirm.content
    assert GameSession.objects.get(pk=session.pk).status == "live"

    done = client.post("/admin/game_sessions/gamesession/",
                       {**data, "apply": "1", "reason": "support ticket 42"})
    assert done.status_code == 302
    assert GameSession.objects.get(pk=session.pk).status == "closed"
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


def test_roles_without_the_permission_cannot_force_close(player):
    session = live_session_with_round(player)
    client = verified_client(make_staff("compliance_officer"))
    url = f"/admin/game_sessions/gamesession/{session.pk}/transition/force_close/"
    assert client.post(url, {"reason": "no"}).status_code == 403
    data = {"action": "force_close_selected", "_selected_action": [str(session.pk)],
            "apply": "1", "reason": "no"}
    client.post("/admin/game_sessions/gamesession/", data)
    assert GameSession.objects.get(pk=session.pk).status == "live"
    assert balances(player) == {"cash": 9_400, "reserved": 600, "bonus": 0}
