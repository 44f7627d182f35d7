"""Game sessions and hilo rounds: services and API against the real PostgreSQL."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from common.errors import Forbidden
from events.models import OutboxEvent
from sessions import hilo, services
from sessions.errors import (
    ImpossibleGuess,
    RoundAlreadyOpen,
    RoundIdReused,
    RoundNotOpen,
    SessionNotLive,
)
from sessions.models import GameRound, GameSession, RoundStatus, SessionStatus
from tests.factories import balances, make_player, make_staff
from tests.sessions.helpers import AVAILABLE_APPS
from wallet.errors import InsufficientFunds
from wallet.models import Transaction

pytestmark = pytest.mark.django_db


def start(player, *, now=None, currency="USD"):
    return services.game_session_start(player=player, game="hilo", currency=currency,
                                       now=now or timezone.now())


def bet(session, player, stake=100, *, round_id=None, now=None):
    return services.game_round_bet(session_id=session.pk, player=player,
                                   client_round_id=round_id or uuid.uuid4(), stake=stake,
                                   now=now or timezone.now())


def reserved_matches_open_rounds(player, currency="USD"):
    open_stakes = sum(GameRound.objects.filter(player=player, status=RoundStatus.OPEN,
                                               currency=currency).values_list("stake", flat=True))
    return balances(player, currency)["reserved"] == open_stakes


def fresh(obj):
    # FSMField(protected=True) refuses refresh_from_db: read the row again instead.
    return type(obj).objects.get(pk=obj.pk)


def snapshot(player):
    return (balances(player), GameRound.objects.count(), GameSession.objects.count(),
            Transaction.objects.count(), OutboxEvent.objects.count())


# --- hilo rules -------------------------------------------------------------------------


def test_hilo_return_to_player_is_97_percent_for_every_card_and_guess():
    stake = 10_000
    for card in range(1, 14):
        for choice in ("higher", "lower"):
            if hilo.winning_ranks(card=card, choice=choice) == 0:
                assert hilo.multiplier(card=card, choice=choice) is None
                continue
            total = sum(hilo.resolve(stake=stake, card=card, choice=choice, next_card=n)[1]
                        for n in range(1, 14))
            # expected payout = total / 13; 97 % less at most one minor unit of rounding
            assert stake * 97 * 13 - 13 * 100 < total * 100 <= stake * 97 * 13


def test_hilo_equal_card_loses_and_draws_stay_in_range():
    assert hilo.resolve(stake=100, card=7, choice="higher", next_card=7) == ("lost", 0)
    assert hilo.resolve(stake=100, card=7, choice="lower", next_card=7) == ("lost", 0)
    assert {hilo.draw_card() for _ in range(2000)} == set(range(1, 14))


# --- sessions ---------------------------------------------------------------------------


def test_start_session_api_returns_ws_url_and_settings(player_api, player):
    resp = player_api.post("/api/v1/games/sessions/", {"game": "hilo", "currency": "USD"},
                           format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert resp.status_code == 201, resp.data
    body = resp.json()
    session = GameSession.objects.get(pk=body["id"])
    assert session.player == player and session.status == SessionStatus.LIVE
    token = services.ws_token(session_id=session.pk)
    assert body["ws_url"] == f"ws://testserver/ws/games/sessions/{session.pk}/?token={token}"
    assert body["heartbeat_interval_s"] == 5 and body["timeout_s"] == 15
    replay = player_api.post("/api/v1/games/sessions/", {"game": "hilo", "currency": "USD"},
                             format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == body
    assert GameSession.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "key", "code"),
    [
        ({"game": "hilo", "currency": "USD"}, None, "idempotency_key_required"),
        ({"game": "poker", "currency": "USD"}, "k", "unknown_game"),
        ({"game": "hilo", "currency": "XXX"}, "k", "unknown_currency"),
    ],
)
def test_start_session_refusals_write_nothing(player_api, player, payload, key, code):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    before = snapshot(player)
    resp = player_api.post("/api/v1/games/sessions/", payload, format="json", **headers)
    assert resp.status_code == 400 and resp.json()["code"] == code
    assert snapshot(player) == before


def test_session_detail_is_the_players_own(player_api, player, make_api):
    session = start(player)
    assert player_api.get(f"/api/v1/games/sessions/{session.pk}/").json()["status"] == "live"
    other = make_api(make_player())
    resp = other.get(f"/api/v1/games/sessions/{session.pk}/")
    assert resp.status_code == 404 and resp.json()["code"] == "session_not_found"


def test_new_session_supersedes_the_live_one_and_returns_its_stake(player):
    old = start(player)
    rnd = bet(old, player, 250).round
    assert balances(player) == {"cash": 9_750, "reserved": 250, "bonus": 0}

    new = start(player)

    old = fresh(old)
    rnd = fresh(rnd)
    assert old.status == SessionStatus.SUPERSEDED and old.close_reason == "superseded"
    assert old.superseded_by_id == new.pk and new.status == SessionStatus.LIVE
    assert rnd.status == RoundStatus.VOIDED and rnd.outcome == "void" and rnd.payout == 250
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}
    assert Transaction.objects.filter(dedupe_key=f"round:{rnd.pk}:settle").count() == 1
    assert GameSession.objects.filter(player=player, status="live").count() == 1
    topics = list(OutboxEvent.objects.values_list("topic", flat=True))
    assert topics.count("session.closed") == 1 and topics.count("session.started") == 2
    assert old.history.first().history_change_reason == f"superseded by session {new.pk}"


def test_database_allows_one_live_session_per_player(player):
    start(player)
    with pytest.raises(Exception) as exc, transaction.atomic():
        GameSession.objects.create(player=player, game="hilo", currency="USD",
                                   last_heartbeat_at=timezone.now(), started_at=timezone.now())
    assert "game_session_one_live_per_player" in str(exc.value)


# --- rounds -----------------------------------------------------------------------------


def test_bet_reserves_the_stake_and_a_repeat_is_answered_not_placed(player):
    session = start(player)
    rid = uuid.uuid4()
    first = bet(session, player, 300, round_id=rid)
    assert not first.replayed and first.round.status == RoundStatus.OPEN
    assert 1 <= first.round.card <= 13
    assert balances(player) == {"cash": 9_700, "reserved": 300, "bonus": 0}
    stake_txn = Transaction.objects.get(dedupe_key=f"round:{first.round.pk}:stake")
    assert stake_txn.kind == "round_stake"

    again = bet(session, player, 300, round_id=rid)
    assert again.replayed and again.round.pk == first.round.pk
    assert balances(player)["reserved"] == 300 and GameRound.objects.count() == 1

    before = snapshot(player)
    with pytest.raises(RoundIdReused):
        bet(session, player, 301, round_id=rid)
    with pytest.raises(RoundAlreadyOpen):
        bet(session, player, 100)
    assert snapshot(player) == before
    assert reserved_matches_open_rounds(player)


def test_bet_refusals_write_nothing(player, settings):
    session = start(player)
    before = snapshot(player)
    with pytest.raises(InsufficientFunds):
        bet(session, player, 10_001)
    assert snapshot(player) == before

    settings.COMPLIANCE_GATES = ["tests.sessions.test_services.refuse_gate"]
    with pytest.raises(Forbidden):
        bet(session, player, 100)
    assert snapshot(player) == before


def refuse_gate(ctx):
    raise Forbidden("restricted", code="account_restricted")


@pytest.mark.parametrize(("card", "choice", "next_card", "outcome", "payout"), [
    (7, "higher", 9, "won", 7 * 0 + 100 * 13 * 97 // (100 * 6)),
    (7, "higher", 7, "lost", 0),
    (2, "lower", 1, "won", 100 * 13 * 97 // 100),
    (13, "lower", 3, "won", 100 * 13 * 97 // (100 * 12)),
])
def test_guess_settles_through_the_ledger(player, monkeypatch, card, choice, next_card, outcome,
                                          payout):
    session = start(player)
    monkeypatch.setattr(hilo, "draw_card", lambda: card)
    rnd = bet(session, player, 100).round
    monkeypatch.setattr(hilo, "draw_card", lambda: next_card)

    result = services.game_round_guess(session_id=session.pk, player=player,
                                       client_round_id=rnd.client_round_id, choice=choice,
                                       now=timezone.now())

    assert result.round.status == RoundStatus.SETTLED and result.round.outcome == outcome
    assert result.round.payout == payout
    assert balances(player) == {"cash": 10_000 - 100 + payout, "reserved": 0, "bonus": 0}
    settle = Transaction.objects.get(dedupe_key=f"round:{rnd.pk}:settle")
    assert settle.kind == "round_settle"
    # the same guess again is answered; a different one is refused; nothing moves
    before = snapshot(player)
    again = services.game_round_guess(session_id=session.pk, player=player,
                                      client_round_id=rnd.client_round_id, choice=choice,
                                      now=timezone.now())
    assert again.replayed and again.round.payout == payout
    other = "lower" if choice == "higher" else "higher"
    with pytest.raises(RoundNotOpen):
        services.game_round_guess(session_id=session.pk, player=player,
                                  client_round_id=rnd.client_round_id, choice=other,
                                  now=timezone.now())
    assert snapshot(player) == before


def test_impossible_guess_is_refused_and_the_round_stays_open(player, monkeypatch):
    session = start(player)
    monkeypatch.setattr(hilo, "draw_card", lambda: 13)
    rnd = bet(session, player, 100).round
    before = snapshot(player)
    with pytest.raises(ImpossibleGuess):
        services.game_round_guess(session_id=session.pk, player=player,
                                  client_round_id=rnd.client_round_id, choice="higher",
                                  now=timezone.now())
    assert snapshot(player) == before
    rnd = fresh(rnd)
    assert rnd.status == RoundStatus.OPEN


# --- timeouts ---------------------------------------------------------------------------


def test_expire_releases_only_after_the_timeout_and_only_once(player, settings):
    settings.GAME_SESSION_TIMEOUT_S = 15
    t0 = timezone.now()
    session = start(player, now=t0)
    rnd = bet(session, player, 400, now=t0).round

    assert services.game_session_expire(session_id=session.pk, now=t0 + timedelta(seconds=14)) is False
    assert balances(player)["reserved"] == 400

    assert services.game_session_expire(session_id=session.pk, now=t0 + timedelta(seconds=16)) is True
    assert services.game_session_expire(session_id=session.pk, now=t0 + timedelta(seconds=17)) is False

    session = fresh(session)
    rnd = fresh(rnd)
    assert session.status == SessionStatus.EXPIRED and session.close_reason == "timeout"
    assert rnd.status == RoundStatus.VOIDED
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}
    assert Transaction.objects.filter(kind="round_settle").count() == 1


def test_a_late_heartbeat_expires_instead_of_reviving(player, settings):
    settings.GAME_SESSION_TIMEOUT_S = 15
    t0 = timezone.now()
    session = start(player, now=t0)
    bet(session, player, 100, now=t0)
    services.game_session_heartbeat(session_id=session.pk, now=t0 + timedelta(seconds=10))
    with pytest.raises(SessionNotLive) as exc:
        services.game_session_heartbeat(session_id=session.pk, now=t0 + timedelta(seconds=26))
    assert exc.value.status == "expired"
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


def test_a_bet_on_a_silent_session_is_refused_and_the_session_expires(player, settings):
    settings.GAME_SESSION_TIMEOUT_S = 15
    t0 = timezone.now()
    session = start(player, now=t0)
    with pytest.raises(SessionNotLive):
        bet(session, player, 100, now=t0 + timedelta(seconds=20))
    session = fresh(session)
    assert session.status == SessionStatus.EXPIRED
    assert GameRound.objects.count() == 0 and balances(player)["reserved"] == 0


def test_sweeper_expires_only_stale_sessions(settings):
    settings.GAME_SESSION_TIMEOUT_S = 15
    t0 = timezone.now()
    a, b, c = (make_player(funds={"USD": 1_000}) for _ in range(3))
    sa, sb, sc = start(a, now=t0), start(b, now=t0), start(c, now=t0)
    for s, p in ((sa, a), (sb, b), (sc, c)):
        bet(s, p, 100, now=t0)
    services.game_session_heartbeat(session_id=sc.pk, now=t0 + timedelta(seconds=10))

    assert services.game_sessions_sweep(now=t0 + timedelta(seconds=20)) == 2
    assert services.game_sessions_sweep(now=t0 + timedelta(seconds=20)) == 0
    assert [balances(p)["reserved"] for p in (a, b, c)] == [0, 0, 100]
    assert GameSession.objects.get(pk=sc.pk).status == SessionStatus.LIVE


# --- staff ------------------------------------------------------------------------------


def test_support_force_close_releases_what_the_session_holds(player, make_api):
    session = start(player)
    bet(session, player, 500)
    agent = make_staff("support_agent")
    url = f"/api/v1/backoffice/game-sessions/{session.pk}/close/"

    before = snapshot(player)
    for user in (player, make_staff("compliance_officer")):
        resp = make_api(user).post(url, {"reason": "x"}, format="json")
        assert resp.status_code == 403
    assert snapshot(player) == before

    resp = make_api(agent).post(url, {"reason": "player called: stuck round"}, format="json")
    assert resp.status_code == 200, resp.data
    assert resp.json()["status"] == "closed" and resp.json()["close_reason"] == "force_closed"
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}
    session = fresh(session)
    assert session.closed_by == agent
    assert session.history.first().history_change_reason == "player called: stuck round"
    assert session.history.first().history_user == agent

    before = snapshot(player)
    again = make_api(agent).post(url, {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "session_not_live"
    missing = make_api(agent).post(f"/api/v1/backoffice/game-sessions/{uuid.uuid4()}/close/")
    assert missing.status_code == 404 and missing.json()["code"] == "session_not_found"
    assert snapshot(player) == before


def test_history_tables_are_append_only(player):
    session = start(player)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        session.history.all().update(history_change_reason="rewritten")


# --- concurrency ------------------------------------------------------------------------


def _race(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        try:
            barrier.wait()
            results.append(target(i))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.django_db(transaction=True, available_apps=AVAILABLE_APPS)
def test_timer_and_sweeper_racing_release_exactly_once(settings):
    settings.GAME_SESSION_TIMEOUT_S = 15
    player = make_player(funds={"USD": 10_000})
    t0 = timezone.now()
    session = start(player, now=t0)
    rnd = bet(session, player, 700, now=t0).round
    later = t0 + timedelta(seconds=20)

    def expire(i):
        if i % 2:
            return services.game_session_expire(session_id=session.pk, now=later, reason="timer")
        return services.game_sessions_sweep(now=later)

    results, errors = _race(6, expire)

    assert errors == []
    assert sum(int(r) for r in results) == 1
    assert Transaction.objects.filter(dedupe_key=f"round:{rnd.pk}:settle").count() == 1
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}
    assert OutboxEvent.objects.filter(topic="session.closed").count() == 1


@pytest.mark.django_db(transaction=True, available_apps=AVAILABLE_APPS)
def test_parallel_session_starts_leave_exactly_one_live_session():
    player = make_player(funds={"USD": 10_000})
    first = start(player)
    bet(first, player, 100)

    results, errors = _race(4, lambda i: start(player))

    assert errors == []
    live = GameSession.objects.filter(player=player, status="live")
    assert live.count() == 1 and live.get().pk in {s.pk for s in results}
    assert GameSession.objects.filter(player=player, status="superseded").count() == 4
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


def test_batched_heartbeat_records_only_live_fresh_sessions(settings):
    settings.GAME_SESSION_TIMEOUT_S = 15
    t0 = timezone.now()
    fresh_one, stale, closed = (make_player(funds={"USD": 1_000}) for _ in range(3))
    s1, s2, s3 = start(fresh_one, now=t0), start(stale, now=t0 - timedelta(seconds=20)), start(closed, now=t0)
    services.game_session_close(session_id=s3.pk, actor=None, reason="x", now=t0)

    alive = services.game_sessions_heartbeat(session_ids=[s1.pk, s2.pk, s3.pk, uuid.uuid4()],
                                             now=t0 + timedelta(seconds=1))

    assert alive == {s1.pk}
    assert GameSession.objects.get(pk=s1.pk).last_heartbeat_at == t0 + timedelta(seconds=1)
    assert GameSession.objects.get(pk=s2.pk).last_heartbeat_at == t0 - timedelta(seconds=20)
    assert GameSession.objects.get(pk=s2.pk).status == "live"  # the slow path decides


def test_play_page_is_served(client):
    resp = client.get("/play/")
    assert resp.status_code == 200
    assert b'id="conn-state"' in resp.content and b'id="bet-btn"' in resp.content
