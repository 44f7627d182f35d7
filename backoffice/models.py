"""Staff decisions the backoffice owns: four-eyes adjustments and the record of audit exports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

from common.history import FSMHistoryBase
from common.money import format_amount


class StaffAction(models.Model):
    """No table: the holder of the backoffice's action permissions, granted to role groups
    by backoffice.roles.roles_sync (one permission per button a role may press)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_player", "Can open the player page and search players"),
            ("force_close_session", "Can force-close a game session"),
            ("propose_adjustment", "Can propose a manual balance adjustment"),
            ("approve_adjustment", "Can approve or reject a manual adjustment"),
            ("decide_withdrawal", "Can approve or reject withdrawals"),
            ("decide_kyc", "Can approve, reject or ask to resubmit KYC applications"),
            ("set_aml_status", "Can change a player's AML status"),
            ("export_audit", "Can export the audit trail"),
            ("trade_markets", "Can suspend, resume and settle markets"),
            ("resolve_discrepancy", "Can resolve reconciliation discrepancies"),
            ("view_dashboard", "Can view the operations dashboard"),
        ]

    def __str__(self) -> str:
        return "staff action"


class AdjustmentStatus(models.TextChoices):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class ManualAdjustment(FSMModelMixin, models.Model):
    """A credit (+) or debit (-) of a player's cash, posted only after a second staff member
    approves it. The database itself refuses a decision by the proposer."""

    player = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="adjustments"
    )
    currency = models.CharField(max_length=8)
    amount = models.BigIntegerField(help_text="Signed minor units: + credit, - debit.")
    reason = models.TextField()
    status = FSMField(
        default=AdjustmentStatus.PROPOSED, choices=AdjustmentStatus.choices, protected=True
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(db_default=Now())
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True, default="")
    ledger_transaction = models.OneToOneField(
        "wallet.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="adjustment_amount_non_zero"),
            # Four eyes, enforced below the application too.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("proposed_by")),
                name="adjustment_decider_not_proposer",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(ledger_transaction__isnull=False),
                name="adjustment_approved_has_transaction",
            ),
            # Nobody proposes or decides an adjustment of their own balance.
            models.CheckConstraint(
                condition=~Q(proposed_by=F("player"))
                & (Q(decided_by__isnull=True) | ~Q(decided_by=F("player"))),
                name="adjustment_staff_not_player",
            ),
        ]

    def __str__(self) -> str:
        sign = "+" if self.amount > 0 else "-"
        return f"Adjustment #{self.pk} {sign}{format_amount(abs(self.amount), self.currency)} {self.currency}"

    @transition(field=status, source=AdjustmentStatus.PROPOSED, target=AdjustmentStatus.APPROVED)
    def approve(self, *, by, reason: str, now, ledger_transaction) -> None:
        self.decided_by = by
        self.decided_at = now
        self.decision_reason = reason
        self.ledger_transaction = ledger_transaction

    @transition(field=status, source=AdjustmentStatus.PROPOSED, target=AdjustmentStatus.REJECTED)
    def reject(self, *, by, reason: str, now) -> None:
        self.decided_by = by
        self.decided_at = now
        self.decision_reason = reason


class ExportFormat(models.TextChoices):
    CSV = "csv"
    JSONL = "jsonl"


class AuditExport(models.Model):
    """Every audit export: who ran it, with which filters, how many rows, and the SHA-256 of
    the exact bytes delivered. `completed_at` stays empty if the download was abandoned."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    channel = models.CharField(max_length=16, default="admin")  # admin | command | api
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    filters = models.JSONField(default=dict)
    reason = models.TextField(blank=True, default="")
    row_count = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    byte_count = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(db_default=Now())
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Audit export #{self.pk} ({self.format})"


class PlayerNote(models.Model):
    """An internal note on a player by a staff member. Append-only (a trigger refuses UPDATE
    and DELETE): a wrong note is corrected by a later note, never edited away."""

    player = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_notes"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["player", "-created_at"], name="playernote_player_created")]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="playernote_body_not_empty"),
        ]

    def __str__(self) -> str:
        return f"Note #{self.pk} on player {self.player_id}"


class CallbackResolution(models.TextChoices):
    NO_ACTION = "no_action"  # nothing is owed (e.g. a mismatch the provider corrected)
    CREDIT_PROPOSED = "credit_proposed"  # money is due: a four-eyes adjustment carries it


class CallbackReview(models.Model):
    """A staff decision on a provider callback that needed review. Append-only: one per
    callback (the callback table itself is append-only evidence and is never edited)."""

    callback = models.OneToOneField("wallet.ProviderCallback", on_delete=models.PROTECT,
                                    related_name="review")
    resolution = models.CharField(max_length=24, choices=CallbackResolution.choices)
    reason = models.TextField()
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField()
    adjustment = models.OneToOneField(ManualAdjustment, null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="callback_review")

    class Meta:
        ordering = ["-reviewed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolution="no_action", adjustment__isnull=True)
                | Q(resolution="credit_proposed", adjustment__isnull=False),
                name="callback_review_credit_has_adjustment",
            ),
        ]

    def __str__(self) -> str:
        return f"Review of callback {self.callback_id}: {self.resolution}"
