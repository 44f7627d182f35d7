"""Bonus campaigns, the bonuses granted to players, and the stakes a bonus tracks.

Money never lives here: every amount below mirrors a ledger posting on the player's `bonus`
account (wallet.ledger), written in the same transaction. Amounts are integer minor units
of the campaign's / bonus's currency.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from common.history import FSMHistoryBase, HistoryBase
from common.money import format_amount


class BonusTransactionKind(models.TextChoices):
    """Ledger transaction kinds written by this app (wallet_transaction.kind)."""

    GRANT = "bonus_grant"  # house -> player bonus
    CONVERT = "bonus_convert"  # player bonus -> player cash (capped; the excess forfeited)
    FORFEIT = "bonus_forfeit"  # player bonus -> house (forfeit, expiry, conversion excess)


BONUS_TRANSACTION_KINDS = tuple(str(k) for k in BonusTransactionKind)


class Trigger(models.TextChoices):
    FIRST_DEPOSIT = "first_deposit"
    MANUAL = "manual"


class Product(models.TextChoices):
    SPORTSBOOK = "sportsbook"  # betting
    GAME = "game"  # our own games (sessions), weighted per game
    CASINO = "casino"  # seamless-wallet provider games


class Campaign(models.Model):
    """Staff-defined terms. A granted bonus copies them: editing a campaign never changes a
    bonus already granted."""

    name = models.CharField(max_length=120)
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    currency = models.CharField(max_length=8)
    # Either a percentage of the triggering deposit (capped) or a fixed amount.
    percent = models.PositiveIntegerField(null=True, blank=True,
                                          help_text="Percent of the deposit (first-deposit trigger).")
    cap = models.BigIntegerField(null=True, blank=True, help_text="Largest bonus, minor units.")
    fixed_amount = models.BigIntegerField(null=True, blank=True, help_text="Minor units.")
    min_deposit = models.BigIntegerField(default=0, help_text="Minor units.")
    wagering_multiple = models.PositiveIntegerField(
        default=30, help_text="Weighted stakes needed = bonus amount x this.")
    # Contribution of a settled stake to wagering, in percent of the stake, per product.
    contribution_sportsbook = models.PositiveIntegerField(default=100)
    contribution_casino = models.PositiveIntegerField(default=100,
                                                      help_text="Seamless-wallet games.")
    contribution_games = models.JSONField(
        default=dict, blank=True, help_text='Own games: {"hilo": 50}; others use the default.')
    contribution_game_default = models.PositiveIntegerField(default=100)
    max_bet = models.BigIntegerField(null=True, blank=True,
                                     help_text="Largest stake while wagering, minor units.")
    max_conversion = models.BigIntegerField(
        null=True, blank=True, help_text="Most that converts to cash, minor units; the rest is forfeited.")
    valid_days = models.PositiveIntegerField(default=30, help_text="A granted bonus expires after this.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(bases=[HistoryBase])

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(percent__isnull=False, fixed_amount__isnull=True)
                           | Q(percent__isnull=True, fixed_amount__isnull=False)),
                name="campaign_percent_xor_fixed"),
            models.CheckConstraint(condition=Q(fixed_amount__isnull=True) | Q(fixed_amount__gt=0),
                                   name="campaign_fixed_positive"),
            models.CheckConstraint(condition=Q(percent__isnull=True) | Q(percent__gt=0),
                                   name="campaign_percent_positive"),
            models.CheckConstraint(condition=Q(cap__isnull=True) | Q(cap__gt=0),
                                   name="campaign_cap_positive"),
            models.CheckConstraint(condition=Q(wagering_multiple__gte=1),
                                   name="campaign_wagering_at_least_once"),
            models.CheckConstraint(
                condition=Q(contribution_sportsbook__lte=100) & Q(contribution_casino__lte=100)
                & Q(contribution_game_default__lte=100), name="campaign_contribution_percent"),
            models.CheckConstraint(condition=Q(max_bet__isnull=True) | Q(max_bet__gt=0),
                                   name="campaign_max_bet_positive"),
            models.CheckConstraint(condition=Q(max_conversion__isnull=True) | Q(max_conversion__gte=0),
                                   name="campaign_max_conversion_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"

    def contributions(self) -> dict:
        return {Product.SPORTSBOOK.value: self.contribution_sportsbook,
                Product.CASINO.value: self.contribution_casino,
                "games": dict(self.contribution_games or {}),
                "game_default": self.contribution_game_default}


class BonusStatus(models.TextChoices):
    GRANTED = "granted"  # credited; no qualifying stake yet
    ACTIVE = "active"  # wagering under way
    WAGERED = "wagered"  # requirement met; converts once no bonus-funded stake is open
    CONVERTED = "converted"
    FORFEITED = "forfeited"
    EXPIRED = "expired"


OPEN_BONUS_STATUSES = (BonusStatus.GRANTED, BonusStatus.ACTIVE, BonusStatus.WAGERED)
# Statuses in which the wagering requirement (and so the max bet) applies.
WAGERING_STATUSES = (BonusStatus.GRANTED, BonusStatus.ACTIVE)


class PlayerBonus(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="bonuses")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="bonuses")
    currency = models.CharField(max_length=8)
    status = FSMField(default=BonusStatus.GRANTED, choices=BonusStatus.choices, protected=True)
    # Names the business event ("first_deposit:<player>", "manual:<uuid>"): one bonus each.
    grant_key = models.CharField(max_length=200, unique=True)
    amount = models.BigIntegerField()
    wagering_required = models.BigIntegerField()
    wagered = models.BigIntegerField(default=0)
    # Terms copied from the campaign at grant.
    contributions = models.JSONField(default=dict)
    max_bet = models.BigIntegerField(null=True, blank=True)
    max_conversion = models.BigIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    # Outcome: what moved to cash, what went back to the house when it closed.
    converted_amount = models.BigIntegerField(default=0)
    forfeited_amount = models.BigIntegerField(default=0)
    deposit_reference = models.CharField(max_length=64, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    closed_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        verbose_name_plural = "player bonuses"
        permissions = [("grant_playerbonus", "Can grant a bonus"),
                       ("forfeit_playerbonus", "Can forfeit a bonus")]
        constraints = [
            # One open bonus per player and currency: the bonus account belongs to it alone.
            models.UniqueConstraint(
                fields=["player", "currency"],
                condition=Q(status__in=["granted", "active", "wagered"]),
                name="player_bonus_one_open_per_currency"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="player_bonus_amount_positive"),
            models.CheckConstraint(condition=Q(wagered__gte=0) & Q(converted_amount__gte=0)
                                   & Q(forfeited_amount__gte=0),
                                   name="player_bonus_counters_non_negative"),
        ]
        indexes = [models.Index(fields=["player", "currency", "status"], name="player_bonus_lookup")]

    def __str__(self) -> str:
        return f"bonus {format_amount(self.amount, self.currency)} {self.currency} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_BONUS_STATUSES

    def contribution_percent(self, *, product: str, game: str = "") -> int:
        terms = self.contributions or {}
        if product == Product.GAME:
            return int((terms.get("games") or {}).get(game, terms.get("game_default", 100)))
        return int(terms.get(product, 100))

    @transition(field=status, source=BonusStatus.GRANTED, target=BonusStatus.ACTIVE)
    def activate(self) -> None:
        pass

    @transition(field=status, source=BonusStatus.ACTIVE, target=BonusStatus.WAGERED)
    def complete_wagering(self) -> None:
        pass

    @transition(field=status, source=BonusStatus.WAGERED, target=BonusStatus.CONVERTED)
    def convert(self, *, amount: int, forfeited: int, now) -> None:
        self.converted_amount = amount
        self.forfeited_amount = forfeited
        self.closed_at = now

    @transition(field=status, source=list(OPEN_BONUS_STATUSES), target=BonusStatus.FORFEITED)
    def forfeit(self, *, amount: int, reason: str, now) -> None:
        self.forfeited_amount = amount
        self.closed_reason = reason
        self.closed_at = now

    @transition(field=status, source=list(WAGERING_STATUSES), target=BonusStatus.EXPIRED)
    def expire(self, *, amount: int, now) -> None:
        self.forfeited_amount = amount
        self.closed_reason = "expired"
        self.closed_at = now


class StakeStatus(models.TextChoices):
    OPEN = "open"
    SETTLED = "settled"
    VOID = "void"


class BonusStake(models.Model):
    """A stake placed while the player had an open bonus: how it was funded (cash first,
    then bonus), what its settlement returned to each account, what it added to wagering."""

    player_bonus = models.ForeignKey(PlayerBonus, on_delete=models.PROTECT, related_name="stakes")
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=8)
    # The domain object: "bet:<id>", "round:<id>", "casino:<provider>:<transaction id>".
    reference = models.CharField(max_length=200, unique=True)
    # The seamless-wallet round a casino stake belongs to (its stakes close with it).
    round_reference = models.CharField(max_length=200, blank=True, default="", db_index=True)
    product = models.CharField(max_length=16, choices=Product.choices)
    game = models.CharField(max_length=64, blank=True, default="")
    amount = models.BigIntegerField()
    cash_part = models.BigIntegerField()
    bonus_part = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=StakeStatus.choices, default=StakeStatus.OPEN)
    # Returned by settlement (win or void) to the bonus account and to cash; the bonus share
    # of a return after the bonus closed goes to the house instead (returned_forfeited).
    returned_bonus = models.BigIntegerField(default=0)
    returned_cash = models.BigIntegerField(default=0)
    returned_forfeited = models.BigIntegerField(default=0)
    contribution = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(db_default=Now())
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(cash_part__gte=0) & Q(bonus_part__gte=0)
                & Q(amount=models.F("cash_part") + models.F("bonus_part")),
                name="bonus_stake_split_sums"),
            models.CheckConstraint(
                condition=Q(returned_bonus__gte=0) & Q(returned_cash__gte=0)
                & Q(returned_forfeited__gte=0) & Q(contribution__gte=0),
                name="bonus_stake_counters_non_negative"),
        ]
        indexes = [models.Index(fields=["player_bonus", "status"], name="bonus_stake_open")]

    def __str__(self) -> str:
        return f"{self.reference}: {self.cash_part} cash + {self.bonus_part} bonus ({self.status})"
