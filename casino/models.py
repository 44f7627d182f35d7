"""Seamless-wallet casino: game launches, provider rounds and provider transactions.

Invariants the database enforces:
- one row per (provider, transaction id) in ProviderTransaction (UNIQUE): a bet, win or
  rollback the provider sends twice is answered from its row, never applied twice, and a
  rollback that arrives before its bet leaves a `tombstone` row under the bet's id so the
  late bet finds it and is refused;
- one round per (provider, provider round id) (UNIQUE);
- amounts and round totals are non-negative integers in minor units (CHECK).

Money is never stored here: every effect is one ledger transaction (`ledger_transaction`),
posted with the dedupe key `casino:<provider>:<transaction id>` (a rollback:
`casino:<provider>:<bet id>:rollback`, so one bet is reversed at most once whatever
rollback ids the provider uses).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from common.history import FSMHistoryBase


class GameLaunch(models.Model):
    """A player opened a provider's game: the short-lived token the provider calls us with.

    Only the token's sha256 is stored. The token binds the provider's calls to this player,
    currency and game; bets need it unexpired, wins and rollbacks do not (the round already
    happened)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token_hash = models.CharField(max_length=64, unique=True)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="game_launches")
    provider = models.CharField(max_length=32)
    game = models.CharField(max_length=64)
    currency = models.CharField(max_length=8)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["player", "created_at"], name="casino_launch_player")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.game} launch {self.id}"


class RoundStatus(models.TextChoices):
    OPEN = "open"
    CLOSED = "closed"
    ROLLED_BACK = "rolled_back"


class CasinoRound(models.Model):
    """A provider's game round: every bet, win and rollback of it refers to this row."""

    provider = models.CharField(max_length=32)
    provider_round_id = models.CharField(max_length=200)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="casino_rounds")
    currency = models.CharField(max_length=8)
    game = models.CharField(max_length=64)
    status = FSMField(default=RoundStatus.OPEN, choices=RoundStatus.choices, protected=True)
    # Running totals, changed under the round's row lock (bets net of rollbacks).
    bet_total = models.BigIntegerField(default=0)
    win_total = models.BigIntegerField(default=0)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(bases=[FSMHistoryBase], excluded_fields=["bet_total", "win_total"])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_round_id"],
                                    name="casino_round_unique_provider_round"),
            models.CheckConstraint(condition=Q(bet_total__gte=0) & Q(win_total__gte=0),
                                   name="casino_round_totals_non_negative"),
        ]
        indexes = [models.Index(fields=["player", "opened_at"], name="casino_round_player")]

    def __str__(self) -> str:
        return f"{self.provider} round {self.provider_round_id} ({self.status})"

    @transition(field=status, source=RoundStatus.OPEN, target=RoundStatus.CLOSED)
    def close(self, *, now) -> None:
        self.closed_at = now

    @transition(field=status, source=[RoundStatus.OPEN, RoundStatus.CLOSED],
                target=RoundStatus.ROLLED_BACK)
    def roll_back(self, *, now) -> None:
        self.closed_at = self.closed_at or now


class TxKind(models.TextChoices):
    BET = "bet"
    WIN = "win"
    ROLLBACK = "rollback"


class TxStatus(models.TextChoices):
    APPLIED = "applied"
    # A bet that a later rollback reversed.
    ROLLED_BACK = "rolled_back"
    # A bet id a rollback named before the bet arrived: the late bet is refused.
    TOMBSTONE = "tombstone"


class WinKind(models.TextChoices):
    REGULAR = "regular"
    FREE_SPIN = "free_spin"
    JACKPOT = "jackpot"


# The outcome_code of a provider transaction we answered with success (otherwise a stable
# error code of casino.errors).
OUTCOME_OK = "ok"


class ProviderTransaction(models.Model):
    """One provider transaction id, exactly once: its parameters, outcome and answer."""

    provider = models.CharField(max_length=32)
    transaction_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=TxKind.choices)
    status = models.CharField(max_length=16, choices=TxStatus.choices, default=TxStatus.APPLIED)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="casino_transactions")
    round = models.ForeignKey(CasinoRound, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="transactions")
    reference_transaction_id = models.CharField(max_length=200, blank=True, default="")
    win_kind = models.CharField(max_length=16, choices=WinKind.choices, blank=True, default="")
    amount = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=8)
    game = models.CharField(max_length=64, blank=True, default="")
    # sha256 of the parameters that must not change between retries of this id.
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    # The answer given (and replayed to a retry): "ok" or a stable error code, and the
    # player's cash balance at that moment.
    outcome_code = models.CharField(max_length=64, default=OUTCOME_OK)
    balance_after = models.BigIntegerField(null=True, blank=True)
    ledger_transaction = models.OneToOneField("wallet.Transaction", null=True, blank=True,
                                              on_delete=models.PROTECT, related_name="+")
    request_id = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "transaction_id"],
                                    name="casino_tx_unique_provider_id"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="casino_tx_amount_non_negative"),
            models.CheckConstraint(condition=~Q(status="tombstone") | Q(kind="bet"),
                                   name="casino_tx_tombstone_is_bet"),
        ]
        indexes = [
            models.Index(fields=["player", "created_at"], name="casino_tx_player"),
            models.Index(fields=["provider", "created_at"], name="casino_tx_provider_day"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.transaction_id} ({self.status})"
