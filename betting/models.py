"""Sportsbook data: events, markets, selections (odds), bets and their legs.

Invariants the database enforces (see migrations):
- odds are decimals between 1.001 and 1000.000; `odds_version` only grows (services bump it
  under the row lock on every change);
- a bet's stake is positive, its payout (once settled) non-negative;
- an accumulator has at most one leg per event (UNIQUE (bet, event));
- history tables and market settlement records are append-only (trigger).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

from common.history import FSMHistoryBase, HistoryBase

ODDS_MIN = Decimal("1.001")
ODDS_MAX = Decimal("1000.000")


class Event(models.Model):
    name = models.CharField(max_length=200)
    starts_at = models.DateTimeField(db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["starts_at", "id"]

    def __str__(self) -> str:
        return self.name


class MarketStatus(models.TextChoices):
    OPEN = "open"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    SETTLED = "settled"
    VOIDED = "voided"


BETTABLE_MARKET_STATUSES = (MarketStatus.OPEN,)
RESULTED_MARKET_STATUSES = (MarketStatus.SETTLED, MarketStatus.VOIDED)


class Market(FSMModelMixin, models.Model):
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="markets")
    name = models.CharField(max_length=200)
    status = FSMField(default=MarketStatus.OPEN, choices=MarketStatus.choices, protected=True)
    # Limits in units of the bet's currency ("10.00" is ten dollars or ten euros).
    min_stake = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0.10"))
    max_stake = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("1000.00"))
    max_payout = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("100000.00"))
    # Takes bets after its event has started (live betting); a pre-match market does not.
    in_play = models.BooleanField(
        default=False, help_text="Accepts bets after the event has started (live betting).")
    # The result: winning selection ids, or void. `settlement_version` counts distinct
    # results (0 = never resulted); each bet leg records which version it was settled at.
    winning_selection_ids = models.JSONField(default=list, blank=True)
    settlement_version = models.PositiveIntegerField(default=0)
    resulted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_stake__gt=0) & Q(max_stake__gte=models.F("min_stake"))
                & Q(max_payout__gt=0),
                name="market_limits_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.name}"

    @transition(field=status, source=MarketStatus.OPEN, target=MarketStatus.SUSPENDED)
    def suspend(self) -> None:
        pass

    @transition(field=status, source=MarketStatus.SUSPENDED, target=MarketStatus.OPEN)
    def resume(self) -> None:
        pass

    @transition(field=status, source=[MarketStatus.OPEN, MarketStatus.SUSPENDED],
                target=MarketStatus.CLOSED)
    def close(self) -> None:
        pass

    @transition(field=status,
                source=[MarketStatus.OPEN, MarketStatus.SUSPENDED, MarketStatus.CLOSED],
                target=RETURN_VALUE(MarketStatus.SETTLED, MarketStatus.VOIDED))
    def settle(self, *, winning_selection_ids: list[int], void: bool, now) -> str:
        self._apply_result(winning_selection_ids=winning_selection_ids, void=void, now=now)
        return MarketStatus.VOIDED if void else MarketStatus.SETTLED

    @transition(field=status, source=[MarketStatus.SETTLED, MarketStatus.VOIDED],
                target=RETURN_VALUE(MarketStatus.SETTLED, MarketStatus.VOIDED))
    def resettle(self, *, winning_selection_ids: list[int], void: bool, now) -> str:
        self._apply_result(winning_selection_ids=winning_selection_ids, void=void, now=now)
        return MarketStatus.VOIDED if void else MarketStatus.SETTLED

    def _apply_result(self, *, winning_selection_ids: list[int], void: bool, now) -> None:
        self.winning_selection_ids = [] if void else sorted(winning_selection_ids)
        self.settlement_version += 1
        self.resulted_at = now

    @property
    def is_void(self) -> bool:
        return self.status == MarketStatus.VOIDED

    def leg_result_for(self, selection_id: int) -> str:
        if self.status == MarketStatus.VOIDED:
            return LegResult.VOID
        return LegResult.WON if selection_id in self.winning_selection_ids else LegResult.LOST


class MarketSettlement(models.Model):
    """One row per distinct result given to a market (append-only audit of resettlements)."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="settlements")
    version = models.PositiveIntegerField()
    void = models.BooleanField(default=False)
    winning_selection_ids = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["market_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["market", "version"], name="market_settlement_unique_version"),
        ]

    def __str__(self) -> str:
        return f"market {self.market_id} v{self.version}"


class Selection(models.Model):
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="selections")
    name = models.CharField(max_length=200)
    odds = models.DecimalField(max_digits=10, decimal_places=3)
    # Bumped by selection_odds_update on every change; copied onto each bet leg.
    odds_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)
    # The odds history: who changed the price, when and why.
    history = HistoricalRecords(bases=[HistoryBase])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(odds__gte=ODDS_MIN) & Q(odds__lte=ODDS_MAX), name="selection_odds_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.odds}"


class BetStatus(models.TextChoices):
    OPEN = "open"
    WON = "won"
    LOST = "lost"
    VOID = "void"


SETTLED_BET_STATUSES = (BetStatus.WON, BetStatus.LOST, BetStatus.VOID)


class BetKind(models.TextChoices):
    SINGLE = "single"
    ACCUMULATOR = "accumulator"


class OddsChangePolicy(models.TextChoices):
    NONE = "none"  # the price must be exactly the one the player saw
    HIGHER = "higher"  # the same or a better price
    ANY = "any"  # whatever the current price is


class Bet(FSMModelMixin, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bets")
    kind = models.CharField(max_length=16, choices=BetKind.choices)
    currency = models.CharField(max_length=8)
    stake = models.BigIntegerField()
    # Product of the legs' accepted odds at acceptance (exact: up to 10 legs x 3 decimals).
    # Payouts are computed from the legs' accepted odds, never from a selection's price.
    accepted_odds = models.DecimalField(max_digits=64, decimal_places=30)
    odds_change = models.CharField(max_length=8, choices=OddsChangePolicy.choices)
    status = FSMField(default=BetStatus.OPEN, choices=BetStatus.choices, protected=True)
    payout = models.BigIntegerField(null=True, blank=True)
    # How many settlements this bet has had (1 once settled, +1 per resettlement); part of
    # the ledger dedupe key so that a re-run settlement cannot post twice.
    settle_seq = models.PositiveIntegerField(default=0)
    stake_transaction = models.OneToOneField(
        "wallet.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settle_transaction = models.OneToOneField(
        "wallet.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["player", "-created_at"], name="bet_player_created")]
        constraints = [
            models.CheckConstraint(condition=Q(stake__gt=0), name="bet_stake_positive"),
            models.CheckConstraint(condition=Q(payout__isnull=True) | Q(payout__gte=0),
                                   name="bet_payout_non_negative"),
            models.CheckConstraint(condition=Q(accepted_odds__gt=1), name="bet_odds_above_one"),
        ]

    def __str__(self) -> str:
        return f"bet {self.pk} ({self.status})"

    @transition(field=status, source=BetStatus.OPEN, target=RETURN_VALUE(*SETTLED_BET_STATUSES))
    def settle(self, *, outcome: str, payout: int, now) -> str:
        self._apply_settlement(payout=payout, now=now)
        return outcome

    @transition(field=status, source=list(SETTLED_BET_STATUSES),
                target=RETURN_VALUE(*SETTLED_BET_STATUSES))
    def resettle(self, *, outcome: str, payout: int, now) -> str:
        self._apply_settlement(payout=payout, now=now)
        return outcome

    def _apply_settlement(self, *, payout: int, now) -> None:
        self.payout = payout
        self.settle_seq += 1
        self.settled_at = now


class LegResult(models.TextChoices):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"
    VOID = "void"


class BetLeg(models.Model):
    bet = models.ForeignKey(Bet, on_delete=models.PROTECT, related_name="legs")
    selection = models.ForeignKey(Selection, on_delete=models.PROTECT, related_name="+")
    # Denormalized from the selection so the database can refuse two legs on one event and
    # settlement can find a market's legs with one index.
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="+")
    requested_odds = models.DecimalField(max_digits=10, decimal_places=3)
    accepted_odds = models.DecimalField(max_digits=10, decimal_places=3)
    odds_version = models.PositiveIntegerField()
    result = models.CharField(max_length=8, choices=LegResult.choices, default=LegResult.PENDING)
    # The market settlement version this leg's result comes from (0 = not yet resulted).
    settled_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["market", "settled_version"], name="betleg_market_version")]
        constraints = [
            models.UniqueConstraint(fields=["bet", "event"], name="betleg_one_per_event"),
        ]

    def __str__(self) -> str:
        return f"leg {self.pk} of bet {self.bet_id}"
