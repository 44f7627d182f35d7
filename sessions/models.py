"""Live game sessions and their rounds.

Invariants the database enforces:
- at most one live session per player (partial UNIQUE index on player where status=live);
- at most one open round per session (partial UNIQUE index), and a client round id names
  one round per session (UNIQUE (session, client_round_id));
- stakes and payouts are non-negative integers in minor units.

Money is never stored here: a round's stake sits in the player's reserved account from
`round:<id>:stake` until `round:<id>:settle` (a settlement or a void) resolves it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from common.history import FSMHistoryBase


class Game(models.TextChoices):
    HILO = "hilo"


class SessionStatus(models.TextChoices):
    LIVE = "live"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    CLOSED = "closed"


class CloseReason(models.TextChoices):
    """The `reason` of the `session.closed` outbox event (docs/events.md)."""

    SUPERSEDED = "superseded"
    TIMEOUT = "timeout"
    FORCE_CLOSED = "force_closed"
    ENDED = "ended"


class GameSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    player = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="game_sessions"
    )
    game = models.CharField(max_length=16, choices=Game.choices)
    currency = models.CharField(max_length=8)
    status = FSMField(default=SessionStatus.LIVE, choices=SessionStatus.choices, protected=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True, default="")
    # Written on every heartbeat with a plain UPDATE (no history row: it is not a state
    # change); the sweeper finds dead sessions by it when their ASGI process is gone.
    last_heartbeat_at = models.DateTimeField()
    started_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    superseded_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )
    history = HistoricalRecords(bases=[FSMHistoryBase], excluded_fields=["last_heartbeat_at"])

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["player"], condition=Q(status="live"), name="game_session_one_live_per_player"
            ),
            models.CheckConstraint(
                condition=Q(status="live", closed_at__isnull=True, close_reason="")
                | (~Q(status="live") & Q(closed_at__isnull=False) & ~Q(close_reason="")),
                name="game_session_closed_fields_consistent",
            ),
        ]
        indexes = [
            # The sweeper's scan: live sessions by staleness.
            models.Index(
                fields=["last_heartbeat_at"], condition=Q(status="live"), name="game_session_live_hb"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.game} session {self.id} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status == SessionStatus.LIVE

    def _close(self, *, reason: str, now, actor=None) -> None:
        self.close_reason = reason
        self.closed_at = now
        self.closed_by = actor

    @transition(field=status, source=SessionStatus.LIVE, target=SessionStatus.SUPERSEDED)
    def supersede(self, *, now, by: GameSession) -> None:
        self._close(reason=CloseReason.SUPERSEDED, now=now)
        self.superseded_by = by

    @transition(field=status, source=SessionStatus.LIVE, target=SessionStatus.EXPIRED)
    def expire(self, *, now) -> None:
        self._close(reason=CloseReason.TIMEOUT, now=now)

    @transition(field=status, source=SessionStatus.LIVE, target=SessionStatus.CLOSED)
    def force_close(self, *, now, actor) -> None:
        self._close(reason=CloseReason.FORCE_CLOSED, now=now, actor=actor)


class RoundStatus(models.TextChoices):
    OPEN = "open"
    SETTLED = "settled"
    VOIDED = "voided"


class RoundOutcome(models.TextChoices):
    WON = "won"
    LOST = "lost"
    VOID = "void"


class HiloChoice(models.TextChoices):
    HIGHER = "higher"
    LOWER = "lower"


class GameRound(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(GameSession, on_delete=models.PROTECT, related_name="rounds")
    player = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="game_rounds"
    )
    # The client's round id: a repeated bet with it is answered, not placed twice.
    client_round_id = models.UUIDField()
    currency = models.CharField(max_length=8)
    stake = models.BigIntegerField()
    status = FSMField(default=RoundStatus.OPEN, choices=RoundStatus.choices, protected=True)
    # hilo: ranks 1 (ace) .. 13 (king), drawn with `secrets`.
    card = models.PositiveSmallIntegerField()
    next_card = models.PositiveSmallIntegerField(null=True, blank=True)
    choice = models.CharField(max_length=8, choices=HiloChoice.choices, blank=True, default="")
    outcome = models.CharField(max_length=8, choices=RoundOutcome.choices, blank=True, default="")
    payout = models.BigIntegerField(default=0)
    void_reason = models.CharField(max_length=16, blank=True, default="")
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "client_round_id"], name="game_round_unique_client_id"
            ),
            models.UniqueConstraint(
                fields=["session"], condition=Q(status="open"), name="game_round_one_open_per_session"
            ),
            models.CheckConstraint(condition=Q(stake__gt=0), name="game_round_stake_positive"),
            models.CheckConstraint(condition=Q(payout__gte=0), name="game_round_payout_non_negative"),
            models.CheckConstraint(condition=Q(card__gte=1, card__lte=13), name="game_round_card_rank"),
        ]
        indexes = [
            models.Index(fields=["player", "status"], name="game_round_player_status"),
        ]

    def __str__(self) -> str:
        return f"round {self.id} ({self.status})"

    @transition(field=status, source=RoundStatus.OPEN, target=RoundStatus.SETTLED)
    def settle(self, *, choice: str, next_card: int, outcome: str, payout: int, now) -> None:
        self.choice = choice
        self.next_card = next_card
        self.outcome = outcome
        self.payout = payout
        self.resolved_at = now

    @transition(field=status, source=RoundStatus.OPEN, target=RoundStatus.VOIDED)
    def void(self, *, reason: str, now) -> None:
        self.outcome = RoundOutcome.VOID
        self.payout = self.stake
        self.void_reason = reason
        self.resolved_at = now


__all__ = [
    "Game",
    "GameRound",
    "GameSession",
    "HiloChoice",
    "RoundOutcome",
    "RoundStatus",
    "SessionStatus",
    "CloseReason",
]
