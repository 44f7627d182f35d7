"""Reality checks on the live game session (elapsed time and net position at the player's
interval; play pauses until acknowledged) and session-time limits that end the session."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.utils import timezone

from config.asgi import application
from responsible import services
from responsible.errors import LimitExceeded, RealityCheckPending
from responsible.models import Profile, RealityCheck
from sessions import hilo
from sessions import services as sessions
from sessions.db import close_connections
from sessions.models import GameRound, GameSession
from tests.factories import balances, make_player

from .conftest import T0

S = timedelta(seconds=1)
ORIGIN = [(b"origin", b"http://localhost")]


def _beat(session, at):
    """The client's heartbeats up to `at` (the socket sends one every few seconds)."""
    GameSession.objects.filter(pk=session.pk).update(last_heartbeat_at=at)


def _interval(player, seconds):
    Profile.objects.update_or_create(player=player, defaults={"reality_check_interval_s": seconds})


@pytest.mark.django_db
def test_a_reality_check_is_due_at_the_interval_and_pauses_play(player, monkeypatch, settings):
    settings.RG_REALITY_CHECK_MIN_S = 60
    services.reality_check_interval_set(player=player, seconds=600, now=T0)
    session = sessions.game_session_start(player=player, game="hilo", currency="USD", now=T0)
    monkeypatch.setattr(hilo, "draw_card", lambda: 7)
    rid = uuid.uuid4()
    sessions.game_round_bet(session_id=session.pk, player=player, client_round_id=rid,
                            stake=250, now=T0 + S)
    monkeypatch.setattr(hilo, "draw_card", lambda: 2)
    sessions.game_round_guess(session_id=session.pk, player=player, client_round_id=rid,
                              choice="higher", now=T0 + 2 * S)
    assert services.reality_check_issue(session_id=session.pk, now=T0 + 599 * S) is None

    check = services.reality_check_issue(session_id=session.pk, now=T0 + 600 * S)
    assert (check.elapsed_s, check.net, check.currency) == (600, -250, "USD")
    # Asking again answers the same unanswered check.
    assert services.reality_check_issue(session_id=session.pk, now=T0 + 700 * S).pk == check.pk
    before = (balances(player), GameRound.objects.count())
    _beat(session, T0 + 601 * S)
    with pytest.raises(RealityCheckPending):
        sessions.game_round_bet(session_id=session.pk, player=player,
                                client_round_id=uuid.uuid4(), stake=100, now=T0 + 601 * S)
    assert (balances(player), GameRound.objects.count()) == before

    services.reality_check_acknowledge(session_id=session.pk, player=player, now=T0 + 610 * S)
    _beat(session, T0 + 611 * S)
    sessions.game_round_bet(session_id=session.pk, player=player, client_round_id=uuid.uuid4(),
                            stake=100, now=T0 + 611 * S)
    assert services.reality_check_issue(session_id=session.pk, now=T0 + 1209 * S) is None
    assert services.reality_check_issue(session_id=session.pk, now=T0 + 1210 * S) is not None


@pytest.mark.django_db
def test_a_session_time_limit_refuses_new_sessions_and_stakes_once_used(player):
    services.limit_set(player=player, kind="session_time", period="day", amount=1800, now=T0)
    session = sessions.game_session_start(player=player, game="hilo", currency="USD", now=T0)
    _beat(session, T0 + 1000 * S)
    sessions.game_round_bet(session_id=session.pk, player=player, client_round_id=uuid.uuid4(),
                            stake=100, now=T0 + 1000 * S)
    watch = services.session_watch(session_id=session.pk, now=T0 + 1000 * S)
    assert watch.ended is False and watch.next_in_s == 800
    _beat(session, T0 + 1800 * S)
    # At 30 minutes the session ends and its open round is voided: the stake comes back.
    watch = services.session_watch(session_id=session.pk, now=T0 + 1800 * S)
    assert watch.ended is True
    assert GameSession.objects.get(pk=session.pk).status == "closed"
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}
    with pytest.raises(LimitExceeded) as exc:
        sessions.game_session_start(player=player, game="hilo", currency="USD",
                                    now=T0 + 1900 * S)
    assert exc.value.extra["limit"]["kind"] == "session_time"
    # The next day the time is available again.
    sessions.game_session_start(player=player, game="hilo", currency="USD",
                                now=T0 + timedelta(days=1))


# --- over the real socket (Channels + PostgreSQL + Redis) ----------------------------------


@pytest.fixture
def socket_db_connections():
    """The socket's DB threads keep their connections open: close them after the test."""
    yield
    close_connections()
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()



def _socket(session_id):
    token = sessions.ws_token(session_id=session_id)
    return WebsocketCommunicator(application, f"/ws/games/sessions/{session_id}/?token={token}",
                                 headers=ORIGIN)


async def _receive(comm, wanted: str, timeout: float = 15):
    """The next message of type `wanted` (heartbeat acks and others skipped)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"no {wanted} message"
        msg = await comm.receive_json_from(timeout=left)
        if msg.get("type") == wanted:
            return msg


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_socket_sends_the_reality_check_and_play_waits_for_the_answer(
        monkeypatch, socket_db_connections):
    player = await sync_to_async(make_player)(funds={"USD": 10_000})
    await sync_to_async(_interval)(player, 2)
    session = await sync_to_async(sessions.game_session_start)(
        player=player, game="hilo", currency="USD", now=timezone.now())
    comm = _socket(session.pk)
    assert (await comm.connect())[0]
    await _receive(comm, "session_state")
    check = await _receive(comm, "reality_check")
    assert check["elapsed_s"] >= 2 and check["net"] == "0.00" and check["currency"] == "USD"

    monkeypatch.setattr(hilo, "draw_card", lambda: 7)
    await comm.send_json_to({"type": "bet", "round_id": str(uuid.uuid4()), "stake": "1.00"})
    refused = await _receive(comm, "error")
    assert refused["code"] == "reality_check_pending"

    await comm.send_json_to({"type": "reality_check_ack"})
    assert (await _receive(comm, "reality_check_acknowledged"))["id"] == check["id"]
    await comm.send_json_to({"type": "bet", "round_id": str(uuid.uuid4()), "stake": "1.00"})
    accepted = await _receive(comm, "bet_accepted")
    assert accepted["stake"] == "1.00"
    acked = await sync_to_async(RealityCheck.objects.get)(pk=check["id"])
    assert acked.acknowledged_at is not None
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_session_time_limit_ends_the_live_session_and_frees_its_round(
        monkeypatch, socket_db_connections):
    player = await sync_to_async(make_player)(funds={"USD": 10_000})
    await sync_to_async(services.limit_set)(player=player, kind="session_time", period="day",
                                            amount=3, now=timezone.now())
    session = await sync_to_async(sessions.game_session_start)(
        player=player, game="hilo", currency="USD", now=timezone.now())
    comm = _socket(session.pk)
    assert (await comm.connect())[0]
    await _receive(comm, "session_state")
    monkeypatch.setattr(hilo, "draw_card", lambda: 7)
    await comm.send_json_to({"type": "bet", "round_id": str(uuid.uuid4()), "stake": "5.00"})
    await _receive(comm, "bet_accepted")
    closed = await _receive(comm, "session_closed")
    assert closed["status"] == "closed" and closed["code"] == 4004
    final = await sync_to_async(GameSession.objects.get)(pk=session.pk)
    assert final.status == "closed"
    assert await sync_to_async(balances)(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}
