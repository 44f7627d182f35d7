"""The game session socket: `ws/games/sessions/<id>/?token=<session token>`.

An interface only: it authenticates, validates messages, calls one service per message and
shapes the answer. It holds no money state: the database is the truth, so a message lost
on the channel layer, a dead ASGI process or a missed close event never loses a stake.

Responsible gambling: a second task per connection asks the watcher named by the setting
`GAME_SESSION_WATCH` (responsible.services.session_watch) whether a reality check is due (it
sends `{"type":"reality_check", ...}`; play pauses until the client answers
`{"type":"reality_check_ack"}`, passed to `GAME_SESSION_REALITY_CHECK_ACK`) and ends the
session when the player's session time is used up.

Liveness: the client sends `{"type":"heartbeat"}` every GAME_SESSION_HEARTBEAT_INTERVAL_S.
A timer task per connection expires the session GAME_SESSION_TIMEOUT_S after the last one
(through game_session_expire, which re-checks the database's last_heartbeat_at under the
row lock); the Celery sweeper does the same for sessions whose process died.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from rest_framework import serializers

from common.edges import json_text_problem
from common.errors import DomainError, _first_code
from common.history import CHANNEL_WEBSOCKET, history_channel_set
from common.money import format_amount, parse_amount

from . import hilo, selectors, services
from .db import db
from .errors import InvalidMessage, SessionNotFound, SessionNotLive
from .heartbeats import batcher
from .models import GameRound, GameSession, HiloChoice

logger = logging.getLogger(__name__)


def _hook(name: str):
    """A callable another app registered in settings (the responsible-gambling watcher): the
    sessions app never imports it (docs/architecture.md)."""
    return import_string(getattr(settings, name))


def _first_message(detail) -> str | None:
    """The first human message of DRF error details ("USD amounts have at most 2 decimals.")."""
    if isinstance(detail, dict):
        detail = next(iter(detail.values()), None)
    if isinstance(detail, list):
        detail = detail[0] if detail else None
    if isinstance(detail, dict | list):
        return _first_message(detail)
    return str(detail) if detail else None


def _round_message(rnd: GameRound, balance: selectors.Balance, *, replayed: bool) -> dict:
    currency = rnd.currency
    common = {
        "round_id": str(rnd.client_round_id),
        "balance": format_amount(balance.available, currency),
        "reserved": format_amount(balance.reserved, currency),
        "currency": currency,
        "replayed": replayed,
    }
    if rnd.status == "open":
        return {
            "type": "bet_accepted", **common, "card": rnd.card,
            "stake": format_amount(rnd.stake, currency),
            "multipliers": {c: hilo.multiplier(card=rnd.card, choice=c) for c in HiloChoice.values},
        }
    return {
        "type": "round_settled", **common, "card": rnd.card, "next_card": rnd.next_card,
        "choice": rnd.choice, "outcome": rnd.outcome,
        "stake": format_amount(rnd.stake, currency),
        "payout": format_amount(rnd.payout, currency),
    }


class GameSessionConsumer(AsyncJsonWebsocketConsumer):
    session_id: uuid.UUID
    watchdog: asyncio.Task | None = None
    rg_watch: asyncio.Task | None = None
    rg_sent = None
    closing = False
    disconnected = False
    joined = False

    # --- connection ---------------------------------------------------------------------

    async def connect(self):
        history_channel_set(CHANNEL_WEBSOCKET)  # this consumer's task: every change it records
        self.session_id = self.scope["url_route"]["kwargs"]["session_id"]
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        # Accept first: a custom close code can only be sent on an accepted socket.
        await self.accept()
        if not services.ws_token_valid(session_id=self.session_id, token=token):
            await self._close(services.CLOSE_UNAUTHORIZED, status="unauthorized")
            return
        try:
            # The (re)connect counts as a heartbeat.
            await self._record_heartbeat()
            state = await db(self._resume)()
        except SessionNotFound:
            await self._close(services.CLOSE_UNAUTHORIZED, status="unauthorized")
            return
        except SessionNotLive as exc:
            await self._close_for(exc.status, exc.close_reason)
            return
        await self.channel_layer.group_add(services.group_name(self.session_id), self.channel_name)
        self.joined = True
        # A reconnect takes the session over: older sockets of it (often half-dead) go.
        await self.channel_layer.group_send(
            services.group_name(self.session_id),
            {"type": "session.takeover", "channel": self.channel_name},
        )
        self.last_beat = time.time()
        self.watchdog = asyncio.create_task(self._watch())
        await self.send_json(state)
        if settings.GAME_SESSION_WATCH:
            self.rg_watch = asyncio.create_task(self._responsible_watch())

    def _resume(self) -> dict:
        """Describe the session to resume."""
        session = GameSession.objects.select_related("player").get(pk=self.session_id)
        self.player = session.player
        self.currency = session.currency
        balance = selectors.player_balance(player_id=session.player_id, currency=session.currency)
        open_round = selectors.game_round_open_or_none(session_id=session.pk)
        return {
            "type": "session_state",
            "session_id": str(session.pk),
            "status": session.status,
            "game": session.game,
            "currency": session.currency,
            "balance": format_amount(balance.available, session.currency),
            "reserved": format_amount(balance.reserved, session.currency),
            "open_round": _round_message(open_round, balance, replayed=True) if open_round else None,
            "heartbeat_interval_s": settings.GAME_SESSION_HEARTBEAT_INTERVAL_S,
            "timeout_s": settings.GAME_SESSION_TIMEOUT_S,
        }

    async def disconnect(self, code):
        # A dropped or closed socket ends nothing by itself: the session stays resumable
        # until its timeout. The timer keeps running after the drop (a client that drops
        # its socket while offline is exactly the one whose session must end on time); it
        # stops once the session ended or another socket of it heartbeats. The sweeper is
        # the fallback for a process that dies with its timers.
        self.disconnected = True
        if self.rg_watch is not None:
            self.rg_watch.cancel()
        if self.joined:
            await self.channel_layer.group_discard(
                services.group_name(self.session_id), self.channel_name
            )

    async def _close(self, code: int, *, status: str, reason: str = "") -> None:
        if self.closing or self.disconnected:
            return
        self.closing = True
        if self.watchdog is not None and self.watchdog is not asyncio.current_task():
            self.watchdog.cancel()
        if self.rg_watch is not None and self.rg_watch is not asyncio.current_task():
            self.rg_watch.cancel()
        await self.send_json({"type": "session_closed", "status": status, "reason": reason,
                              "code": code})
        await self.close(code=code)

    async def _close_for(self, status: str, reason: str) -> None:
        await self._close(services.CLOSE_CODES.get(status, 4000), status=status, reason=reason)

    async def _watch(self) -> None:
        """Expire the session when no heartbeat came for the timeout."""
        limit = settings.GAME_SESSION_TIMEOUT_S
        while not self.closing:
            delay = self.last_beat + limit - time.time()
            # A little past the deadline, so the locked re-check sees the session as due.
            await asyncio.sleep(max(delay, 0) + 0.05)
            if self.last_beat + limit > time.time():
                continue
            try:
                session = await db(self._expire)()
            except Exception:  # noqa: BLE001 - the sweeper is the fallback; retry soon
                logger.warning("session timer failed for %s", self.session_id, exc_info=True)
                await asyncio.sleep(1)
                continue
            if not session.is_live:
                await self._close_for(session.status, session.close_reason)
                return
            # Still live: another socket of this session heartbeats; follow the database.
            beat = session.last_heartbeat_at.timestamp()
            if self.disconnected and beat > self.last_beat + settings.GAME_SESSION_HEARTBEAT_INTERVAL_S:
                return  # this socket is gone and a newer one beats: its own timer watches
            self.last_beat = max(self.last_beat, beat)

    async def _responsible_watch(self) -> None:
        """Send reality checks when due; end the session when session time is used up (the
        service closes it, and its session.closed notice closes this socket)."""
        while not self.closing:
            try:
                watch = await db(_hook("GAME_SESSION_WATCH"))(session_id=self.session_id,
                                                              now=timezone.now())
            except Exception:  # noqa: BLE001 - retry soon; the gates still refuse play
                logger.warning("responsible-gambling watch failed for %s", self.session_id,
                               exc_info=True)
                await asyncio.sleep(5)
                continue
            if watch.ended:
                return
            check = watch.reality_check
            if check is not None and check.pk != self.rg_sent:
                self.rg_sent = check.pk
                await self.send_json({
                    "type": "reality_check", "id": check.pk, "elapsed_s": check.elapsed_s,
                    "net": format_amount(check.net, check.currency), "currency": check.currency,
                    "issued_at": check.issued_at.isoformat(),
                })
            # Re-ask at least every 30 s: the player may change the interval or a limit.
            delay = 30.0 if watch.next_in_s is None else min(watch.next_in_s, 30.0)
            await asyncio.sleep(max(delay, 0.2))

    def _expire(self) -> GameSession:
        services.game_session_expire(session_id=self.session_id, now=timezone.now(),
                                     reason="asgi timer")
        return GameSession.objects.get(pk=self.session_id)

    # --- messages -----------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # Bad frames get an error message, never a crashed consumer (close 1011).
        content = None
        if text_data is not None:
            # Too large, too deep or with NUL bytes: refused before parsing (common.edges),
            # with an error message; the socket stays open.
            problem = json_text_problem(text_data)
            if problem is not None:
                await self._error(problem, None)
                return
            try:
                content = await self.decode_json(text_data)
            except ValueError:
                content = None
        elif bytes_data is not None:
            await self._error(InvalidMessage("Send JSON text messages."), None)
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if self.closing:
            return
        kind = content.get("type") if isinstance(content, dict) else None
        handler = {"heartbeat": self._heartbeat, "bet": self._bet, "guess": self._guess,
                   "reality_check_ack": self._reality_check_ack}.get(kind or "")
        if handler is None:
            await self._error(InvalidMessage(
                "Send heartbeat, bet, guess or reality_check_ack messages."), content)
            return
        try:
            await handler(content)
        except SessionNotLive as exc:
            await self._close_for(exc.status, exc.close_reason)
        except SessionNotFound:
            await self._close(services.CLOSE_UNAUTHORIZED, status="unauthorized")
        except DomainError as exc:
            await self._error(exc, content)
        except serializers.ValidationError as exc:
            await self._error(InvalidMessage(_first_message(exc.detail),
                                             code=_first_code(exc.detail) or "invalid_message",
                                             extra={"errors": exc.detail}), content)
        except Exception:  # noqa: BLE001 - a bug or an outage: say so, keep the socket
            logger.exception("game session message failed")
            await self._error(DomainError("An internal error occurred. It has been logged.",
                                          code="server_error", status_code=500), content)

    async def _error(self, exc: DomainError, content) -> None:
        round_id = content.get("round_id") if isinstance(content, dict) else None
        await self.send_json({"type": "error", "code": exc.code, "detail": exc.detail,
                              "round_id": round_id, **exc.extra})

    async def _record_heartbeat(self) -> None:
        if not await batcher().beat(self.session_id):
            # Not live or past its timeout: the single-session path expires it if due and
            # raises SessionNotLive / SessionNotFound (or finds a concurrent refresh).
            await db(services.game_session_heartbeat)(session_id=self.session_id,
                                                      now=timezone.now())

    async def _heartbeat(self, content) -> None:
        await self._record_heartbeat()
        self.last_beat = time.time()
        await self.send_json({"type": "heartbeat_ack"})

    async def _reality_check_ack(self, content) -> None:
        if not settings.GAME_SESSION_REALITY_CHECK_ACK:
            raise InvalidMessage("Reality checks are not enabled.")
        check = await db(_hook("GAME_SESSION_REALITY_CHECK_ACK"))(
            session_id=self.session_id, player=self.player, now=timezone.now())
        self.last_beat = time.time()
        await self.send_json({"type": "reality_check_acknowledged",
                              "id": check.pk if check is not None else None})
        if self.rg_watch is not None:  # schedule the next check from this answer
            self.rg_watch.cancel()
            self.rg_watch = asyncio.create_task(self._responsible_watch())

    @staticmethod
    def _round_id(content) -> uuid.UUID:
        try:
            return uuid.UUID(str(content.get("round_id")))
        except ValueError:
            raise InvalidMessage("round_id must be a UUID.") from None

    async def _bet(self, content) -> None:
        round_id = self._round_id(content)
        stake = parse_amount(content.get("stake"), self.currency, field="stake")
        message = await db(self._bet_sync)(round_id, stake)
        self.last_beat = time.time()
        await self.send_json(message)

    def _bet_sync(self, round_id: uuid.UUID, stake: int) -> dict:
        result = services.game_round_bet(
            session_id=self.session_id, player=self.player, client_round_id=round_id,
            stake=stake, now=timezone.now(),
        )
        balance = selectors.player_balance(player_id=self.player.pk, currency=self.currency)
        return _round_message(result.round, balance, replayed=result.replayed)

    async def _guess(self, content) -> None:
        round_id = self._round_id(content)
        choice = content.get("choice")
        if choice not in HiloChoice.values:
            raise InvalidMessage('choice must be "higher" or "lower".')
        message = await db(self._guess_sync)(round_id, choice)
        self.last_beat = time.time()
        await self.send_json(message)

    def _guess_sync(self, round_id: uuid.UUID, choice: str) -> dict:
        result = services.game_round_guess(
            session_id=self.session_id, player=self.player, client_round_id=round_id,
            choice=choice, now=timezone.now(),
        )
        balance = selectors.player_balance(player_id=self.player.pk, currency=self.currency)
        return _round_message(result.round, balance, replayed=result.replayed)

    # --- channel layer notices (sent after commit by services) ---------------------------

    async def session_closed(self, event) -> None:
        await self._close(event["code"], status=event["status"], reason=event["reason"])

    async def session_takeover(self, event) -> None:
        if event["channel"] != self.channel_name:
            await self._close(4001, status="taken_over", reason="reconnected elsewhere")
