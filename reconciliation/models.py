"""Read models fed by outbox events, consumer bookkeeping, findings and alerts.

Invariants the database enforces:
- a consumer applies an event at most once (UNIQUE consumer, event_id), and the
  ProcessedEvent row commits in the same transaction as the read-model change;
- one open finding per fingerprint (partial UNIQUE while open or investigating), so a check
  that runs again reports nothing twice;
- one open alert per monitor (partial UNIQUE while not cleared);
- discrepancy history is append-only (trigger, see migrations).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from common.history import FSMHistoryBase

# --- consumers ---------------------------------------------------------------------------


# --- read models (CQRS) --------------------------------------------------------------------


class PlayerSummary(models.Model):
    """A player's lifetime money summary in one currency, built only from events.

    net = deposits - withdrawals + wins - stakes + adjustments, which equals the player's
    ledger balance (cash + reserved + bonus) once every event is applied.
    """

    replica_ok = True

    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+", db_constraint=False)
    currency = models.CharField(max_length=8)
    deposits = models.BigIntegerField(default=0)
    withdrawals = models.BigIntegerField(default=0)
    stakes = models.BigIntegerField(default=0)
    wins = models.BigIntegerField(default=0)
    adjustments = models.BigIntegerField(default=0)
    net = models.BigIntegerField(default=0)
    events_applied = models.PositiveIntegerField(default=0)
    last_event_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "player summaries"
        constraints = [
            models.UniqueConstraint(fields=["player", "currency"],
                                    name="player_summary_unique_player_currency"),
        ]

    def __str__(self) -> str:
        return f"player {self.player_id} {self.currency}"


class OperatorDailyKpi(models.Model):
    """Operator KPIs for one UTC day and currency, built only from events."""

    replica_ok = True

    day = models.DateField()
    currency = models.CharField(max_length=8)
    deposits = models.BigIntegerField(default=0)
    withdrawals = models.BigIntegerField(default=0)
    stakes = models.BigIntegerField(default=0)
    payouts = models.BigIntegerField(default=0)
    ggr = models.BigIntegerField(default=0)
    active_players = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = "operator daily KPI"
        ordering = ["-day", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["day", "currency"], name="kpi_unique_day_currency"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.currency}"


class KpiActivePlayer(models.Model):
    """Who was active on a day (the distinct count behind OperatorDailyKpi.active_players)."""

    day = models.DateField()
    currency = models.CharField(max_length=8)
    player_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "currency", "player_id"],
                                    name="kpi_active_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.currency} {self.player_id}"


# --- findings ------------------------------------------------------------------------------


class DiscrepancyKind(models.TextChoices):
    UNBALANCED_TRANSACTION = "unbalanced_transaction", "Transaction entries do not sum to zero"
    UNBALANCED_LEDGER = "unbalanced_ledger", "All entries of a currency do not sum to zero"
    BALANCE_MISMATCH = "balance_mismatch", "Materialized balance differs from its entries"
    NEGATIVE_BALANCE = "negative_balance", "Negative player balance"
    DUPLICATE_DEDUPE_KEY = "duplicate_dedupe_key", "Dedupe key on several transactions"
    DUPLICATE_PROVIDER_TXN = "duplicate_provider_txn", "Provider transaction on several transactions"
    DUPLICATE_SETTLEMENT = "duplicate_settlement", "Settlement posted more than once"
    RESERVED_MISMATCH = "reserved_mismatch", "Reserved balance differs from open holds"
    STUCK_DEPOSIT = "stuck_deposit", "Deposit pending too long"
    STUCK_WITHDRAWAL = "stuck_withdrawal", "Withdrawal processing too long"
    STUCK_ROUND = "stuck_round", "Game round open too long"
    STALE_SESSION = "stale_session", "Live session without heartbeat"
    OUTBOX_UNSENT = "outbox_unsent", "Outbox event unsent too long"
    STUCK_IDEMPOTENCY_KEY = "stuck_idempotency_key", "Idempotency key in progress too long"
    UNSETTLED_MARKET = "unsettled_market", "Resulted market with bets not settled"
    UNSENT_WITHDRAWAL = "unsent_withdrawal", "Approved withdrawal not sent"
    CALLBACK_AWAITING_REVIEW = "callback_awaiting_review", "Provider callback awaiting review"
    PROVIDER_MISSING_OURS = "provider_missing_ours", "In the provider report, not on our side"
    PROVIDER_MISSING_THEIRS = "provider_missing_theirs", "On our side, not in the provider report"
    PROVIDER_AMOUNT_MISMATCH = "provider_amount_mismatch", "Provider amount differs"
    PROVIDER_STATUS_MISMATCH = "provider_status_mismatch", "Provider status differs"
    CASINO_LEDGER_MISMATCH = "casino_ledger_mismatch", "Casino provider transaction and ledger disagree"
    REFUND_EXCEEDS_DEPOSIT = "refund_exceeds_deposit", "Refunds exceed their deposit"
    REFUND_LEDGER_MISMATCH = "refund_ledger_mismatch", "Completed refund and ledger disagree"
    BONUS_BALANCE_MISMATCH = "bonus_balance_mismatch", "Bonus balance differs from grants, stakes, returns and closures"
    BONUS_STATE_MISMATCH = "bonus_state_mismatch", "Bonus state disagrees with its ledger postings"
    FEE_LEDGER_MISMATCH = "fee_ledger_mismatch", "Fees account and fee charges disagree"
    AFFILIATE_PAYABLE_MISMATCH = "affiliate_payable_mismatch", "Affiliate payable differs from closes less payouts"


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"


class Discrepancy(models.Model):
    """One inconsistency found by a check, worked through open -> investigating -> resolved."""

    kind = models.CharField(max_length=40, choices=DiscrepancyKind.choices, db_index=True)
    # Stable identity of the finding ("balance_mismatch:account:42"): a check that runs again
    # updates the open row instead of adding one.
    fingerprint = models.CharField(max_length=255)
    status = FSMField(default=DiscrepancyStatus.OPEN, choices=DiscrepancyStatus.choices,
                      protected=True, db_index=True)
    currency = models.CharField(max_length=8, blank=True, default="")
    player_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    subject = models.CharField(max_length=255, blank=True, default="")
    expected = models.BigIntegerField(null=True, blank=True)
    actual = models.BigIntegerField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    seen_count = models.PositiveIntegerField(default=1)
    detected_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolution_reason = models.TextField(blank=True, default="")
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        verbose_name_plural = "discrepancies"
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"], condition=~Q(status="resolved"),
                name="discrepancy_one_open_per_fingerprint",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "investigating"]) | ~Q(resolution_reason=""),
                name="discrepancy_resolved_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"

    @transition(field=status, source=DiscrepancyStatus.OPEN, target=DiscrepancyStatus.INVESTIGATING)
    def investigate(self) -> None:
        pass

    @transition(field=status, source=[DiscrepancyStatus.OPEN, DiscrepancyStatus.INVESTIGATING],
                target=DiscrepancyStatus.RESOLVED)
    def resolve(self, *, reason: str, by, now) -> None:
        self.resolution_reason = reason
        self.resolved_by = by
        self.resolved_at = now


class Alert(models.Model):
    """A monitor past its threshold. Cleared (not deleted) when it recovers."""

    name = models.CharField(max_length=100)
    severity = models.CharField(max_length=16, default="warning")
    detail = models.TextField(blank=True, default="")
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    raised_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=Q(cleared_at__isnull=True),
                                    name="alert_one_open_per_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


# --- provider settlement reports -----------------------------------------------------------


class ProviderReport(models.Model):
    provider = models.CharField(max_length=32)
    filename = models.CharField(max_length=255, blank=True, default="")
    # sha256 of the file: importing the same report twice is refused.
    content_sha256 = models.CharField(max_length=64, unique=True)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    line_count = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(db_default=Now())
    findings = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"{self.provider} {self.period_start:%Y-%m-%d}..{self.period_end:%Y-%m-%d}"


class ProviderReportLine(models.Model):
    report = models.ForeignKey(ProviderReport, on_delete=models.CASCADE, related_name="lines")
    provider_transaction_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=16)  # deposit | withdrawal
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    status = models.CharField(max_length=16)  # normalized: ok | failed
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "provider_transaction_id"],
                                    name="report_line_unique_txn"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.provider_transaction_id}"
