"""Every state change of game sessions and rounds.

Lock order, everywhere: the session row, then its round rows (by primary key), then the
player's compliance row (common.gates, when a stake is taken), then the player's wallet
accounts (taken by wallet.ledger in primary-key order). Every path that
resolves a round — a guess, a heartbeat timeout seen by the ASGI timer, the Celery sweeper,
a supersede, a staff force-close — locks the session row first and re-checks it under the
lock, so whichever comes first resolves the round and the others find nothing to do; the
ledger's UNIQUE dedupe key `round:<id>:settle` is the last line of defence.

The channel layer only carries notices ("close this socket") after commit: money never
travels through it, the database is the truth.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.crypto import constant_time_compare, salted_hmac

from bonuses.models import Product
from bonuses.services import stake_hold, stake_settle
from common.db import service_atomic
from common.gates import Operation, gates_check
from common.history import save_with_history
from common.hooks import hooks_run
from common.money import currency_get
from events.services import emit
from wallet.models import TransactionKind

from . import hilo
from .errors import (
    ImpossibleGuess,
    RoundAlreadyOpen,
    RoundIdReused,
    RoundNotFound,
    RoundNotOpen,
    SessionNotFound,
    SessionNotLive,
    UnknownGame,
)
from .models import (
    Game,
    GameRound,
    GameSession,
    RoundOutcome,
    RoundStatus,
    SessionStatus,
)

logger = logging.getLogger(__name__)

# Close codes of the session socket (DESIGN.md); 4004 is ours for a staff force-close.
CLOSE_CODES: dict[str, int] = {
    SessionStatus.SUPERSEDED: 4001,
    SessionStatus.EXPIRED: 4002,
    SessionStatus.CLOSED: 4004,
}
CLOSE_UNAUTHORIZED = 4003

_LIVE_INDEX = "game_session_one_live_per_player"
# The gate operation of a new session (common.gates): exclusions and session-time limits.
SESSION_START = "session_start"
_START_ATTEMPTS = 10


def timeout() -> timedelta:
    return timedelta(seconds=settings.GAME_SESSION_TIMEOUT_S)


def group_name(session_id) -> str:
    return f"game_session.{session_id}"


def ws_token(*, session_id) -> str:
    """The socket credential of one session: an HMAC of its id (nothing secret is stored)."""
    return salted_hmac("game_sessions.ws_token", str(session_id)).hexdigest()


def ws_token_valid(*, session_id, token: str) -> bool:
    return bool(token) and constant_time_compare(ws_token(session_id=session_id), token)


def _iso(now: datetime) -> str:
    return now.isoformat()


def _notify_closed(session: GameSession) -> None:
    """After commit: tell the socket(s) of `session` to close. Best effort: a socket that
    misses it finds out at its next heartbeat, and no money depends on it."""
    message = {
        "type": "session.closed",
        "status": session.status,
        "reason": session.close_reason,
        "code": CLOSE_CODES.get(session.status, 4000),
    }
    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group_name(session.pk), message)
    except Exception:  # noqa: BLE001 - a notice, never a reason to fail after commit
        logger.warning("could not notify session %s of its closing", session.pk, exc_info=True)


# --- helpers that run inside a service's transaction, with the session row locked ----------


def _lock_session(session_id, *, player=None) -> GameSession:
    qs = GameSession.objects.select_for_update().filter(pk=session_id)
    if player is not None:
        qs = qs.filter(player=player)
    session = qs.first()
    if session is None:
        raise SessionNotFound()
    return session


def _not_live(session: GameSession) -> SessionNotLive:
    return SessionNotLive(status=session.status, close_reason=session.close_reason)


def _void_round(rnd: GameRound, *, reason: str, now: datetime, actor=None, note: str = "") -> None:
    rnd.void(reason=reason, now=now)
    # The stake leaves the player's limit counters (never refuses).
    hooks_run("STAKE_RETURN_HOOKS", player_id=rnd.player_id, currency=rnd.currency,
              stake=rnd.stake, payout=rnd.stake, staked_at=rnd.opened_at, now=now, void=True)
    save_with_history(rnd, user=actor, reason=note or f"voided: {reason}")
    stake_settle(
        player_id=rnd.player_id, currency=rnd.currency, stake=rnd.stake, payout=rnd.stake,
        kind=TransactionKind.ROUND_SETTLE, dedupe_key=f"round:{rnd.pk}:settle",
        reference=f"round:{rnd.pk}", void=True, now=now,
        created_by_id=getattr(actor, "pk", None), reason=note or f"round voided: {reason}",
        metadata={"session_id": str(rnd.session_id), "outcome": RoundOutcome.VOID},
    )
    emit(
        topic="round.settled", aggregate_type="round", aggregate_id=rnd.pk,
        payload={
            "round_id": str(rnd.pk), "session_id": str(rnd.session_id),
            "player_id": rnd.player_id, "currency": rnd.currency, "stake": rnd.stake,
            "payout": rnd.stake, "outcome": RoundOutcome.VOID, "occurred_at": _iso(now),
        },
    )


def _close(session: GameSession, *, now: datetime, actor=None, note: str) -> None:
    """Void the open rounds of a locked session whose transition was just applied, save it,
    record the event, and schedule the socket notice for after commit."""
    open_rounds = (
        GameRound.objects.select_for_update()
        .filter(session=session, status=RoundStatus.OPEN)
        .order_by("pk")
    )
    for rnd in open_rounds:
        _void_round(rnd, reason=session.close_reason, now=now, actor=actor, note=note)
    save_with_history(session, user=actor, reason=note)
    emit(
        topic="session.closed", aggregate_type="session", aggregate_id=session.pk,
        payload={
            "session_id": str(session.pk), "player_id": session.player_id,
            "currency": session.currency, "reason": session.close_reason,
            "occurred_at": _iso(now),
        },
    )
    transaction.on_commit(lambda: _notify_closed(session))


def _touch(session: GameSession, *, now: datetime) -> None:
    # Any message from the player proves the connection alive, like a heartbeat.
    GameSession.objects.filter(pk=session.pk).update(last_heartbeat_at=now)
    session.last_heartbeat_at = now


def _is_stale(session: GameSession, *, now: datetime) -> bool:
    return session.last_heartbeat_at < now - timeout()


# --- sessions -------------------------------------------------------------------------------


def game_session_start(*, player, game: str, currency: str, now: datetime) -> GameSession:
    """Start a live session for `player`, superseding (and releasing) their live one.

    Never refuses because another session is live. Raises UnknownGame, and a DRF
    ValidationError (unknown_currency) for an unknown currency.
    """
    if game not in Game.values:
        raise UnknownGame()
    currency_get(currency)
    for attempt in range(_START_ATTEMPTS):
        try:
            return _session_start_once(player=player, game=game, currency=currency, now=now)
        except IntegrityError as exc:
            # A concurrent start committed a new live row our locking read could not see
            # (it found no live row, or one that stopped being live while we waited): retry,
            # and this time find and supersede it under its lock. Every round of a race lets
            # one start through, so the retries are bounded by the racers.
            constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
            if constraint != _LIVE_INDEX or attempt == _START_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _session_start_once(*, player, game: str, currency: str, now: datetime) -> GameSession:
    # A savepoint inside a request transaction: game_session_start retries on IntegrityError.
    with service_atomic(savepoint=True):
        new = GameSession(
            id=uuid.uuid4(), player=player, game=game, currency=currency,
            last_heartbeat_at=now, started_at=now,
        )
        old = (
            GameSession.objects.select_for_update()
            .filter(player=player, status=SessionStatus.LIVE)
            .first()
        )
        # The old live session (domain row) is locked; the compliance row next: exclusions
        # and session-time limits refuse a new session (accounts come after, in _close).
        gates_check(operation=SESSION_START, player_id=player.pk, amount=0, currency=currency,
                    now=now, player=player)
        if old is not None:
            # The FK to the new row is checked at commit (deferred), so the old row can
            # leave the live state before the new one enters it.
            old.supersede(now=now, by=new)
            _close(old, now=now, actor=player, note=f"superseded by session {new.pk}")
        save_with_history(new, user=player, reason="started")
        emit(
            topic="session.started", aggregate_type="session", aggregate_id=new.pk,
            payload={
                "session_id": str(new.pk), "player_id": player.pk, "currency": currency,
                "reason": "started", "occurred_at": _iso(now),
            },
        )
    return new


def game_session_heartbeat(*, session_id, now: datetime) -> None:
    """Record a heartbeat of a live session.

    A session already past its timeout is expired instead (and its rounds voided), so a late
    heartbeat never revives a session the sweeper may be releasing. Raises SessionNotFound,
    SessionNotLive (with the session's status and close reason).
    """
    updated = GameSession.objects.filter(
        pk=session_id, status=SessionStatus.LIVE, last_heartbeat_at__gte=now - timeout()
    ).update(last_heartbeat_at=now)
    if updated:
        return
    game_session_expire(session_id=session_id, now=now, reason="late heartbeat")
    session = GameSession.objects.filter(pk=session_id).first()
    if session is None:
        raise SessionNotFound()
    if session.is_live:  # a concurrent heartbeat refreshed it in between: it is alive
        return
    raise _not_live(session)


_BATCH_HEARTBEAT_SQL = """
WITH due AS (
    SELECT id FROM {table}
     WHERE id = ANY(%s) AND status = 'live' AND last_heartbeat_at >= %s
     ORDER BY id
       FOR UPDATE
)
UPDATE {table} AS s SET last_heartbeat_at = %s FROM due WHERE s.id = due.id RETURNING s.id
"""


def game_sessions_heartbeat(*, session_ids, now: datetime) -> set:
    """Record one heartbeat for each of many sessions in one statement; return the ids that
    were live and within their timeout (the others need game_session_heartbeat's verdict).

    Rows are locked in primary-key order, so two batches (two ASGI processes) cannot
    deadlock; a session being expired is waited for, then re-checked and left out.
    """
    if not session_ids:
        return set()
    # Raw SQL: the ORM's update() cannot return the ids it touched.
    sql = _BATCH_HEARTBEAT_SQL.format(table=GameSession._meta.db_table)
    with service_atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [list(session_ids), now - timeout(), now])
        return {row[0] for row in cursor.fetchall()}


def game_session_expire(*, session_id, now: datetime, reason: str = "heartbeat timeout") -> bool:
    """Expire a live session silent for longer than the timeout; void its open rounds and
    return their stakes. Return whether this call expired it (False: not live, not due).

    Safe to run concurrently and repeatedly (ASGI timer and Celery sweeper): the row lock
    and re-check let exactly one caller release.
    """
    with service_atomic():
        session = GameSession.objects.select_for_update().filter(pk=session_id).first()
        if session is None or not session.is_live or not _is_stale(session, now=now):
            return False
        session.expire(now=now)
        _close(session, now=now, note=f"expired: {reason}")
    return True


def game_session_close(*, session_id, actor, reason: str, now: datetime) -> GameSession:
    """Force-close a live session (staff); void its open rounds and return their stakes.

    Raises SessionNotFound, SessionNotLive.
    """
    with service_atomic():
        session = _lock_session(session_id)
        if not session.is_live:
            raise _not_live(session)
        session.force_close(now=now, actor=actor)
        _close(session, now=now, actor=actor, note=reason.strip() or "force-closed by staff")
    return session


def game_sessions_sweep(*, now: datetime, limit: int = 1000) -> int:
    """Expire every live session silent past the timeout; return how many this run expired.

    For sessions whose ASGI process died with them; safe to run twice or alongside timers.
    """
    stale_ids = list(
        GameSession.objects.filter(status=SessionStatus.LIVE, last_heartbeat_at__lt=now - timeout())
        .order_by("last_heartbeat_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(
        1 for sid in stale_ids if game_session_expire(session_id=sid, now=now, reason="sweeper")
    )


# --- rounds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundResult:
    round: GameRound
    replayed: bool


def _lock_live_session_for_play(session_id, *, player, now: datetime) -> GameSession | None:
    """Lock the player's session; None when it is live but past its timeout (caller expires
    it outside this transaction). Raises SessionNotFound, SessionNotLive."""
    session = _lock_session(session_id, player=player)
    if not session.is_live:
        raise _not_live(session)
    if _is_stale(session, now=now):
        return None
    return session


def _expire_and_refuse(session_id, *, now: datetime) -> SessionNotLive:
    game_session_expire(session_id=session_id, now=now, reason="message after timeout")
    session = GameSession.objects.get(pk=session_id)
    return _not_live(session)


def game_round_bet(
    *, session_id, player, client_round_id: uuid.UUID, stake: int, now: datetime
) -> RoundResult:
    """Open a hilo round: reserve the stake and draw the first card.

    The client round id makes it idempotent: the same id and stake answers the existing
    round. Raises SessionNotFound, SessionNotLive, RoundIdReused, RoundAlreadyOpen,
    InsufficientFunds, and whatever the compliance gates raise (e.g. account_restricted).
    """
    if stake <= 0:
        raise ValueError("stake must be positive")
    with service_atomic():
        session = _lock_live_session_for_play(session_id, player=player, now=now)
        if session is not None:
            existing = GameRound.objects.filter(
                session=session, client_round_id=client_round_id
            ).first()
            if existing is not None:
                if existing.stake != stake:
                    raise RoundIdReused()
                _touch(session, now=now)
                return RoundResult(round=existing, replayed=True)
            if GameRound.objects.filter(session=session, status=RoundStatus.OPEN).exists():
                raise RoundAlreadyOpen()
            rnd = GameRound(
                id=uuid.uuid4(), session=session, player=player, client_round_id=client_round_id,
                currency=session.currency, stake=stake, card=hilo.draw_card(), opened_at=now,
            )
            # Session row (domain) is locked; the compliance row next, accounts last.
            gates_check(operation=Operation.ROUND_STAKE, player_id=player.pk, amount=stake,
                        currency=session.currency, now=now, player=player)
            # The hold comes first: a refusal (insufficient funds) rolls back before any row.
            # Cash first, then an open bonus's money (bonuses app).
            stake_hold(
                player_id=player.pk, currency=session.currency, amount=stake,
                kind=TransactionKind.ROUND_STAKE, dedupe_key=f"round:{rnd.pk}:stake",
                reference=f"round:{rnd.pk}", metadata={"session_id": str(session.pk)},
                product=Product.GAME, game=session.game, now=now,
            )
            save_with_history(rnd, user=player, reason="bet")
            emit(
                topic="round.opened", aggregate_type="round", aggregate_id=rnd.pk,
                payload={
                    "round_id": str(rnd.pk), "session_id": str(session.pk),
                    "player_id": player.pk, "currency": session.currency, "stake": stake,
                    "occurred_at": _iso(now),
                },
            )
            _touch(session, now=now)
            return RoundResult(round=rnd, replayed=False)
    raise _expire_and_refuse(session_id, now=now)


def game_round_guess(
    *, session_id, player, client_round_id: uuid.UUID, choice: str, now: datetime
) -> RoundResult:
    """Settle an open hilo round: draw the next card, pay a win, keep a loss.

    Repeating the same guess answers the settled round. Raises SessionNotFound,
    SessionNotLive, RoundNotFound, RoundNotOpen, ImpossibleGuess.
    """
    with service_atomic():
        session = _lock_live_session_for_play(session_id, player=player, now=now)
        if session is not None:
            rnd = (
                GameRound.objects.select_for_update()
                .filter(session=session, client_round_id=client_round_id)
                .first()
            )
            if rnd is None:
                raise RoundNotFound()
            if rnd.status != RoundStatus.OPEN:
                if rnd.status == RoundStatus.SETTLED and rnd.choice == choice:
                    _touch(session, now=now)
                    return RoundResult(round=rnd, replayed=True)
                raise RoundNotOpen(extra={"status": rnd.status})
            if hilo.winning_ranks(card=rnd.card, choice=choice) <= 0:
                raise ImpossibleGuess()
            next_card = hilo.draw_card()
            outcome, payout = hilo.resolve(
                stake=rnd.stake, card=rnd.card, choice=choice, next_card=next_card
            )
            rnd.settle(choice=choice, next_card=next_card, outcome=outcome, payout=payout, now=now)
            # A win lowers the player's net loss (never refuses).
            hooks_run("STAKE_RETURN_HOOKS", player_id=player.pk, currency=rnd.currency,
                      stake=rnd.stake, payout=payout, staked_at=rnd.opened_at, now=now)
            save_with_history(rnd, user=player, reason=f"guess {choice}")
            # The win splits in the stake's cash/bonus proportion; wagering advances here.
            stake_settle(
                player_id=player.pk, currency=rnd.currency, stake=rnd.stake, payout=payout,
                kind=TransactionKind.ROUND_SETTLE, dedupe_key=f"round:{rnd.pk}:settle",
                reference=f"round:{rnd.pk}", now=now,
                metadata={"session_id": str(session.pk), "outcome": outcome},
            )
            emit(
                topic="round.settled", aggregate_type="round", aggregate_id=rnd.pk,
                payload={
                    "round_id": str(rnd.pk), "session_id": str(session.pk),
                    "player_id": player.pk, "currency": rnd.currency, "stake": rnd.stake,
                    "payout": payout, "outcome": outcome, "occurred_at": _iso(now),
                },
            )
            _touch(session, now=now)
            return RoundResult(round=rnd, replayed=False)
    raise _expire_and_refuse(session_id, now=now)
