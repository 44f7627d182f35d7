"""The session socket through Channels' WebsocketCommunicator, against PostgreSQL and Redis."""

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application
from sessions import hilo, services
from sessions.models import GameRound, GameSession
from tests.factories import balances, make_player
from tests.sessions.helpers import AVAILABLE_APPS

pytestmark = [pytest.mark.asyncio,
              pytest.mark.django_db(transaction=True, available_apps=AVAILABLE_APPS)]

ORIGIN = [(b"origin", b"http://localhost")]


@pytest.fixture
def funded():
    return make_player(funds={"USD": 10_000})


@pytest.fixture
def session(funded):
    return services.game_session_start(player=funded, game="hilo", currency="USD",
                                       now=timezone.now())


def socket(session_id, token=None):
    token = services.ws_token(session_id=session_id) if token is None else token
    return WebsocketCommunicator(application, f"/ws/games/sessions/{session_id}/?token={token}",
                                 headers=ORIGIN)


async def connected(session):
    comm = socket(session.pk)
    ok, _ = await comm.connect()
    assert ok
    state = await comm.receive_json_from()
    assert state["type"] == "session_state"
    return comm, state


async def expect_close(comm, code, status, timeout=3):
    closed = await comm.receive_json_from(timeout=timeout)
    assert closed["type"] == "session_closed" and closed["status"] == status, closed
    assert await comm.receive_output(timeout=1) == {"type": "websocket.close", "code": code}


def db(fn, *args, **kwargs):
    return sync_to_async(fn)(*args, **kwargs)


def fetch(model, pk):
    return model.objects.get(pk=pk)


async def test_heartbeat_is_acknowledged_and_recorded(session, funded):
    comm, state = await connected(session)
    assert state["balance"] == "100.00" and state["open_round"] is None
    assert state["heartbeat_interval_s"] == 5 and state["timeout_s"] == 15
    before = (await db(fetch, GameSession, session.pk)).last_heartbeat_at

    await comm.send_json_to({"type": "heartbeat"})
    assert await comm.receive_json_from() == {"type": "heartbeat_ack"}

    assert (await db(fetch, GameSession, session.pk)).last_heartbeat_at > before
    await comm.disconnect()
    # a dropped socket ends nothing: the session stays resumable until its timeout
    assert (await db(fetch, GameSession, session.pk)).status == "live"


async def test_bet_then_guess_moves_money_through_the_ledger(session, funded, monkeypatch):
    comm, _ = await connected(session)
    monkeypatch.setattr(hilo, "draw_card", lambda: 4)
    rid = str(uuid.uuid4())

    await comm.send_json_to({"type": "bet", "round_id": rid, "stake": "2.50"})
    accepted = await comm.receive_json_from()
    assert accepted["type"] == "bet_accepted" and accepted["round_id"] == rid
    assert accepted["card"] == 4 and accepted["balance"] == "97.50"
    assert accepted["reserved"] == "2.50"
    assert await db(balances, funded) == {"cash": 9_750, "reserved": 250, "bonus": 0}

    monkeypatch.setattr(hilo, "draw_card", lambda: 9)
    await comm.send_json_to({"type": "guess", "round_id": rid, "choice": "higher"})
    settled = await comm.receive_json_from()
    payout = 250 * 13 * 97 // (100 * 9)
    assert settled["type"] == "round_settled" and settled["outcome"] == "won"
    assert settled["payout"] == f"{payout // 100}.{payout % 100:02d}"
    assert await db(balances, funded) == {"cash": 9_750 + payout, "reserved": 0, "bonus": 0}
    await comm.disconnect()


def _round_history(round_id):
    rnd = GameRound.objects.get(session__isnull=False, client_round_id=round_id)
    return list(rnd.history.order_by("history_id").values_list("history_user_id", "history_channel"))


async def test_changes_made_through_the_socket_record_the_websocket_channel(session, funded):
    comm, _ = await connected(session)
    rid = uuid.uuid4()
    await comm.send_json_to({"type": "bet", "round_id": str(rid), "stake": "1.00"})
    assert (await comm.receive_json_from())["type"] == "bet_accepted"
    rows = await db(_round_history, rid)
    assert rows and all(channel == "websocket" for _, channel in rows), rows
    assert rows[0][0] == funded.pk
    await comm.disconnect()


async def test_bad_messages_get_errors_and_change_nothing(session, funded):
    comm, _ = await connected(session)
    for message, code in [
        ({"type": "dance"}, "invalid_message"),
        ({"type": "bet", "round_id": "nope", "stake": "1.00"}, "invalid_message"),
        ({"type": "bet", "round_id": str(uuid.uuid4()), "stake": 1}, "invalid_amount"),
        ({"type": "bet", "round_id": str(uuid.uuid4()), "stake": "1.001"}, "invalid_amount"),
        ({"type": "bet", "round_id": str(uuid.uuid4()), "stake": "100.01"}, "insufficient_funds"),
        ({"type": "guess", "round_id": str(uuid.uuid4()), "choice": "higher"}, "round_not_found"),
        ({"type": "guess", "round_id": str(uuid.uuid4()), "choice": "same"}, "invalid_message"),
    ]:
        await comm.send_json_to(message)
        reply = await comm.receive_json_from()
        assert reply["type"] == "error" and reply["code"] == code, (message, reply)
    await comm.send_to(text_data="{not json")
    assert (await comm.receive_json_from())["code"] == "invalid_message"
    assert await db(balances, funded) == {"cash": 10_000, "reserved": 0, "bonus": 0}
    assert await db(GameRound.objects.count) == 0
    await comm.disconnect()


async def test_deep_large_and_nul_messages_get_errors_and_the_socket_stays(session, funded):
    """Issue 12: depth 500 crashed the consumer (RecursionError in the JSON parser)."""
    comm, _ = await connected(session)
    stake = '{"type": "bet", "round_id": "%s", "stake": "1.00", "x": %s}'
    for text, code in [
        ('{"type": "heartbeat", "x": ' + "[" * 500 + "]" * 500 + "}", "body_too_deep"),
        ("[" * 200_000 + "]" * 200_000, "body_too_large"),
        ("[" * 20_000, "body_too_deep"),
        (stake % (uuid.uuid4(), '"\\u0000"'), "invalid_characters"),
        ('{"type": "bet", "round_id": "\\u0000", "stake": "1.00"}', "invalid_characters"),
    ]:
        await comm.send_to(text_data=text)
        reply = await comm.receive_json_from()
        assert reply["type"] == "error" and reply["code"] == code, (text[:60], reply)
    await comm.send_json_to({"type": "heartbeat"})
    assert await comm.receive_json_from() == {"type": "heartbeat_ack"}
    assert await db(balances, funded) == {"cash": 10_000, "reserved": 0, "bonus": 0}
    assert await db(GameRound.objects.count) == 0
    await comm.disconnect()


async def test_silence_past_the_timeout_expires_and_returns_the_stake(session, funded, settings):
    settings.GAME_SESSION_TIMEOUT_S = 1
    comm, _ = await connected(session)
    await comm.send_json_to({"type": "bet", "round_id": str(uuid.uuid4()), "stake": "5.00"})
    assert (await comm.receive_json_from())["type"] == "bet_accepted"

    await expect_close(comm, 4002, "expired", timeout=4)

    closed = await db(fetch, GameSession, session.pk)
    assert closed.status == "expired" and closed.close_reason == "timeout"
    assert await db(balances, funded) == {"cash": 10_000, "reserved": 0, "bonus": 0}


async def test_a_dropped_socket_still_expires_on_time_without_the_sweeper(session, funded,
                                                                          settings):
    """A client that goes offline often drops its socket too (the page closes it to
    reconnect): the drop must not cancel the timer, or with no sweeper running the session
    stays live, its stake reserved, until someone else notices."""
    settings.GAME_SESSION_TIMEOUT_S = 1
    comm, _ = await connected(session)
    await comm.send_json_to({"type": "bet", "round_id": str(uuid.uuid4()), "stake": "5.00"})
    assert (await comm.receive_json_from())["type"] == "bet_accepted"
    await comm.disconnect()
    assert (await db(fetch, GameSession, session.pk)).status == "live"

    deadline = asyncio.get_running_loop().time() + 5
    while (await db(fetch, GameSession, session.pk)).status == "live":
        assert asyncio.get_running_loop().time() < deadline, "the session never expired"
        await asyncio.sleep(0.1)
    closed = await db(fetch, GameSession, session.pk)
    assert closed.status == "expired" and closed.close_reason == "timeout"
    assert await db(balances, funded) == {"cash": 10_000, "reserved": 0, "bonus": 0}


async def test_reconnect_within_the_timeout_resumes_the_open_round(session, funded):
    comm, _ = await connected(session)
    rid = str(uuid.uuid4())
    await comm.send_json_to({"type": "bet", "round_id": rid, "stake": "1.00"})
    card = (await comm.receive_json_from())["card"]
    await comm.disconnect()

    again, state = await connected(session)
    assert state["session_id"] == str(session.pk) and state["reserved"] == "1.00"
    assert state["open_round"]["round_id"] == rid and state["open_round"]["card"] == card
    # the same bet repeated after the reconnect is answered, not placed twice
    await again.send_json_to({"type": "bet", "round_id": rid, "stake": "1.00"})
    replay = await again.receive_json_from()
    assert replay["replayed"] is True and replay["card"] == card
    assert await db(balances, funded) == {"cash": 9_900, "reserved": 100, "bonus": 0}
    await again.disconnect()


async def test_a_second_socket_of_the_same_session_takes_over(session):
    first, _ = await connected(session)
    second, _ = await connected(session)
    await expect_close(first, 4001, "taken_over")
    await second.send_json_to({"type": "heartbeat"})
    assert await second.receive_json_from() == {"type": "heartbeat_ack"}
    await second.disconnect()


async def test_new_session_supersedes_the_connected_one(session, funded):
    comm, _ = await connected(session)
    await comm.send_json_to({"type": "bet", "round_id": str(uuid.uuid4()), "stake": "3.00"})
    assert (await comm.receive_json_from())["type"] == "bet_accepted"

    newer = await db(services.game_session_start, player=funded, game="hilo", currency="USD",
                     now=timezone.now())

    await expect_close(comm, 4001, "superseded")
    assert (await db(fetch, GameSession, session.pk)).status == "superseded"
    assert await db(balances, funded) == {"cash": 10_000, "reserved": 0, "bonus": 0}
    # the old ws_url now answers with the same close code
    stale = socket(session.pk)
    assert (await stale.connect())[0]
    await expect_close(stale, 4001, "superseded")
    fresh, state = await connected(newer)
    assert state["balance"] == "100.00"
    await fresh.disconnect()


async def test_staff_force_close_closes_the_socket(session, funded):
    comm, _ = await connected(session)
    agent = await db(make_player)
    await db(services.game_session_close, session_id=session.pk, actor=agent, reason="ticket 1",
             now=timezone.now())
    await expect_close(comm, 4004, "closed")


async def test_unauthorized_sockets_are_closed_with_4003(session):
    tokens = ["x" * 64, "", services.ws_token(session_id=uuid.uuid4())]
    for session_id, token in [(session.pk, t) for t in tokens] + [(uuid.uuid4(), None)]:
        comm = socket(session_id, token=token)
        assert (await comm.connect())[0]
        await expect_close(comm, 4003, "unauthorized")
    # nothing was touched: no heartbeat recorded by an unauthorized socket
    assert (await db(fetch, GameSession, session.pk)).last_heartbeat_at == session.last_heartbeat_at
