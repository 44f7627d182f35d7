"""Responsible gambling: limits, time-outs and self-exclusions, reality checks, usage counters.

Every change here runs with the player's compliance row locked (kyc AMLProfile, see
`responsible.lock_objects`), so the money gates, which lock that row first too, always decide
on the limits and exclusions in force at commit time.

Invariants the database enforces:
- one limit in force per (player, kind, period, currency, source): a partial UNIQUE index;
- one time-out and one self-exclusion in force per player: a partial UNIQUE index;
- one unacknowledged reality check per game session: a partial UNIQUE index;
- history tables are append-only (trigger, see migrations).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

from common.history import FSMHistoryBase, HistoryBase


class LimitKind(models.TextChoices):
    DEPOSIT = "deposit"
    LOSS = "loss"  # stakes minus what they returned (wins, voids), net
    WAGER = "wager"  # stakes
    SESSION_TIME = "session_time"  # seconds in live game sessions


MONEY_KINDS = (LimitKind.DEPOSIT, LimitKind.LOSS, LimitKind.WAGER)


class LimitPeriod(models.TextChoices):
    """Calendar periods in UTC: the day, the ISO week (from Monday), the month."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Source(models.TextChoices):
    PLAYER = "player"
    OPERATOR = "operator"  # imposed by compliance, with a reason


class LimitStatus(models.TextChoices):
    ACTIVE = "active"
    # An increase or removal requested by the player: the old amount stays in force until
    # the cooling-off has passed and the player confirms.
    PENDING = "pending"
    REMOVED = "removed"


class Limit(FSMModelMixin, models.Model):
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="rg_limits")
    kind = models.CharField(max_length=16, choices=LimitKind.choices)
    period = models.CharField(max_length=8, choices=LimitPeriod.choices)
    # Empty for session_time limits.
    currency = models.CharField(max_length=8, blank=True, default="")
    source = models.CharField(max_length=8, choices=Source.choices)
    # In force: minor units of `currency`, or seconds for session_time.
    amount = models.BigIntegerField()
    status = FSMField(default=LimitStatus.ACTIVE, choices=LimitStatus.choices, protected=True)
    pending_amount = models.BigIntegerField(null=True, blank=True)  # null while pending: removal
    pending_requested_at = models.DateTimeField(null=True, blank=True)
    pending_effective_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        ordering = ["kind", "period", "currency", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "kind", "period", "currency", "source"],
                condition=~Q(status="removed"), name="rg_one_limit_in_force",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="rg_limit_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(kind="session_time", currency="") | (~Q(kind="session_time") & ~Q(currency="")),
                name="rg_limit_currency_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(status="pending", pending_effective_at__isnull=False)
                | (~Q(status="pending") & Q(pending_effective_at__isnull=True, pending_amount__isnull=True)),
                name="rg_limit_pending_fields_consistent",
            ),
        ]
        indexes = [models.Index(fields=["player", "kind", "currency"], name="rg_limit_player_kind")]
        permissions = [("impose_limit", "Can impose limits and exclusions on players")]

    def __str__(self) -> str:
        return f"{self.source} {self.period} {self.kind} limit {self.amount} {self.currency}".strip()

    @property
    def in_force(self) -> bool:
        return self.status != LimitStatus.REMOVED

    @transition(field=status, source=[LimitStatus.ACTIVE, LimitStatus.PENDING],
                target=LimitStatus.ACTIVE)
    def decrease(self, *, amount: int) -> None:
        self.amount = amount
        self._clear_pending()

    @transition(field=status, source=[LimitStatus.ACTIVE, LimitStatus.PENDING],
                target=LimitStatus.PENDING)
    def request_change(self, *, amount: int | None, now, effective_at) -> None:
        """Ask for an increase (amount) or a removal (None) after the cooling-off."""
        self.pending_amount = amount
        self.pending_requested_at = now
        self.pending_effective_at = effective_at

    @transition(field=status, source=LimitStatus.PENDING, target=LimitStatus.ACTIVE)
    def cancel_pending(self) -> None:
        self._clear_pending()

    @transition(field=status, source=LimitStatus.PENDING, target=LimitStatus.ACTIVE)
    def confirm_increase(self) -> None:
        assert self.pending_amount is not None  # a pending increase carries its amount
        self.amount = self.pending_amount
        self._clear_pending()

    @transition(field=status, source=LimitStatus.PENDING, target=LimitStatus.REMOVED)
    def confirm_removal(self) -> None:
        self._clear_pending()

    @transition(field=status, source=LimitStatus.ACTIVE, target=LimitStatus.ACTIVE)
    def operator_set(self, *, amount: int, by, reason: str) -> None:
        self.amount = amount
        self.set_by = by
        self.reason = reason

    @transition(field=status, source=[LimitStatus.ACTIVE, LimitStatus.PENDING],
                target=LimitStatus.REMOVED)
    def operator_lift(self, *, by, reason: str) -> None:
        self.set_by = by
        self.reason = reason
        self._clear_pending()

    def _clear_pending(self) -> None:
        self.pending_amount = None
        self.pending_requested_at = None
        self.pending_effective_at = None


class ExclusionKind(models.TextChoices):
    TIMEOUT = "timeout"  # a break of a day up to six weeks; ends by itself
    SELF_EXCLUSION = "self_exclusion"  # six months to five years, or indefinite


class ExclusionStatus(models.TextChoices):
    # In force. A time-out stops being in force at ends_at; a self-exclusion stays in force
    # after ends_at until the player asks to return and the return cooling-off has passed.
    ACTIVE = "active"
    RETURN_REQUESTED = "return_requested"  # self-exclusion over; reopens at reopen_at
    ENDED = "ended"


LIVE_EXCLUSION_STATUSES = (ExclusionStatus.ACTIVE, ExclusionStatus.RETURN_REQUESTED)


class Exclusion(FSMModelMixin, models.Model):
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="rg_exclusions")
    kind = models.CharField(max_length=16, choices=ExclusionKind.choices)
    source = models.CharField(max_length=8, choices=Source.choices)
    status = FSMField(default=ExclusionStatus.ACTIVE, choices=ExclusionStatus.choices,
                      protected=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)  # null: indefinite self-exclusion
    return_requested_at = models.DateTimeField(null=True, blank=True)
    reopen_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "kind"], condition=Q(status__in=["active", "return_requested"]),
                name="rg_one_live_exclusion_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind="self_exclusion") | Q(ends_at__isnull=False),
                name="rg_timeout_has_end",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="rg_exclusion_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["player"], condition=Q(status__in=["active", "return_requested"]),
                         name="rg_exclusion_live"),
        ]

    def __str__(self) -> str:
        until = f"until {self.ends_at:%Y-%m-%d}" if self.ends_at else "indefinite"
        return f"{self.kind} {until} ({self.status})"

    def in_force_at(self, now) -> bool:
        if self.status == ExclusionStatus.ENDED:
            return False
        if self.kind == ExclusionKind.TIMEOUT:
            return self.ends_at > now
        if self.status == ExclusionStatus.RETURN_REQUESTED:
            return self.reopen_at > now
        return True

    def over_at(self, now) -> bool:
        """The exclusion's own term has passed (a self-exclusion may then be asked to end)."""
        return self.ends_at is not None and self.ends_at <= now

    @transition(field=status, source=ExclusionStatus.ACTIVE,
                target=ExclusionStatus.RETURN_REQUESTED)
    def request_return(self, *, now, reopen_at) -> None:
        self.return_requested_at = now
        self.reopen_at = reopen_at

    @transition(field=status, source=[ExclusionStatus.ACTIVE, ExclusionStatus.RETURN_REQUESTED],
                target=ExclusionStatus.ENDED)
    def end(self, *, now) -> None:
        self.ended_at = now


class Profile(models.Model):
    """Per-player settings and records: reality-check interval, the external register's last
    answer, the limit prompt. Usage counters live in `Usage`."""

    player = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True,
                                  on_delete=models.PROTECT, related_name="rg_profile")
    reality_check_interval_s = models.PositiveIntegerField(null=True, blank=True)
    external_excluded = models.BooleanField(default=False)
    external_checked_at = models.DateTimeField(null=True, blank=True)
    limit_prompt_shown_at = models.DateTimeField(null=True, blank=True)
    limit_prompt_context = models.CharField(max_length=16, blank=True, default="")
    limit_prompt_answer = models.CharField(max_length=16, blank=True, default="")
    limit_prompt_answered_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(bases=[HistoryBase])

    def __str__(self) -> str:
        return f"responsible gambling profile of {self.player_id}"


class Usage(models.Model):
    """Per-player, per-currency counters of the calendar day, week and month that contain
    `*_start`. Written only by the gates and return hooks (`responsible.counters`), with the
    player's compliance row locked; a new period resets its counters."""

    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+")
    currency = models.CharField(max_length=8)
    day_start = models.DateField()
    week_start = models.DateField()
    month_start = models.DateField()
    deposit_day = models.BigIntegerField(default=0)
    deposit_week = models.BigIntegerField(default=0)
    deposit_month = models.BigIntegerField(default=0)
    wager_day = models.BigIntegerField(default=0)
    wager_week = models.BigIntegerField(default=0)
    wager_month = models.BigIntegerField(default=0)
    # Net loss may go negative (the player is up on the period).
    loss_day = models.BigIntegerField(default=0)
    loss_week = models.BigIntegerField(default=0)
    loss_month = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["player", "currency"], name="rg_usage_one_row"),
        ]

    def __str__(self) -> str:
        return f"usage of {self.player_id} in {self.currency} (day of {self.day_start})"


class RealityCheck(models.Model):
    """One reality check sent on a live game session; play pauses until acknowledged."""

    session = models.ForeignKey("game_sessions.GameSession", on_delete=models.PROTECT,
                                related_name="reality_checks")
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+")
    issued_at = models.DateTimeField()
    elapsed_s = models.PositiveIntegerField()
    net = models.BigIntegerField()  # payouts minus stakes of the session's resolved rounds
    currency = models.CharField(max_length=8)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["issued_at"]
        constraints = [
            models.UniqueConstraint(fields=["session"], condition=Q(acknowledged_at__isnull=True),
                                    name="rg_one_pending_reality_check"),
        ]

    def __str__(self) -> str:
        state = "acknowledged" if self.acknowledged_at else "pending"
        return f"reality check at {self.issued_at:%Y-%m-%d %H:%M} ({state})"
