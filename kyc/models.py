"""Identity verification (KYC) applications, their documents, and AML status per player.

Invariants the database enforces (see migrations):
- at most one live application per player: a partial UNIQUE index over the statuses
  submitted, in_review, resubmission_requested and approved, so two parallel submits (or
  a pending application next to an approved one) cannot both exist;
- documents, document access rows and every history table are append-only (trigger).

Document files live under settings.PRIVATE_MEDIA_ROOT (never under a served URL); a row
holds only the relative path, and staff read the bytes through a logged view.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from common.history import FSMHistoryBase, HistoryBase


class KYCStatus(models.TextChoices):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    RESUBMISSION_REQUESTED = "resubmission_requested"


# Statuses of the one application a player may have at a time. Only rejected applications
# may accumulate (a compliance officer lets the player try again).
LIVE_STATUSES = (
    KYCStatus.SUBMITTED,
    KYCStatus.IN_REVIEW,
    KYCStatus.RESUBMISSION_REQUESTED,
    KYCStatus.APPROVED,
)
# Waiting for a compliance decision: the review queue.
QUEUE_STATUSES = (KYCStatus.SUBMITTED, KYCStatus.IN_REVIEW)
DECIDABLE_STATUSES = (KYCStatus.SUBMITTED, KYCStatus.IN_REVIEW)


class KYCApplication(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="kyc_applications")
    status = FSMField(default=KYCStatus.SUBMITTED, choices=KYCStatus.choices, protected=True)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    # The last decision's reason (rejection, resubmission request); the history keeps all.
    decision_reason = models.TextField(blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    # Set by a compliance officer on a rejected application: the player may apply again.
    reapply_allowed = models.BooleanField(default=False)
    previous = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="next")
    # Identity as the player declares it, compared by the reviewer with the documents.
    full_name = models.CharField(max_length=200, blank=True, default="")
    date_of_birth = models.DateField(null=True, blank=True)
    address = models.TextField(max_length=500, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="",
                               help_text="ISO 3166-1 alpha-2 code")
    submitted_at = models.DateTimeField()
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        verbose_name = "KYC application"
        ordering = ["submitted_at", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["player"], condition=Q(status__in=LIVE_STATUSES),
                name="kyc_one_live_application_per_player",
            ),
            models.CheckConstraint(
                condition=Q(reapply_allowed=False) | Q(status=KYCStatus.REJECTED),
                name="kyc_reapply_only_when_rejected",
            ),
            # Separation of duties, below the service: nobody reviews their own application.
            models.CheckConstraint(
                condition=Q(reviewer__isnull=True) | ~Q(reviewer=F("player")),
                name="kyc_reviewer_not_player",
            ),
        ]
        indexes = [models.Index(fields=["status", "submitted_at"], name="kyc_queue_idx")]
        permissions = [
            ("review_kycapplication", "Can review KYC applications and read their documents"),
        ]

    def __str__(self) -> str:
        return f"KYC {self.pk} ({self.status})"

    @transition(field=status, source=KYCStatus.SUBMITTED, target=KYCStatus.IN_REVIEW)
    def start_review(self, *, reviewer) -> None:
        self.reviewer = reviewer

    @transition(field=status, source=KYCStatus.IN_REVIEW, target=KYCStatus.APPROVED)
    def approve(self, *, reviewer, reason: str, now) -> None:
        self._decide(reviewer=reviewer, reason=reason, now=now)

    @transition(field=status, source=KYCStatus.IN_REVIEW, target=KYCStatus.REJECTED)
    def reject(self, *, reviewer, reason: str, now) -> None:
        self._decide(reviewer=reviewer, reason=reason, now=now)

    @transition(field=status, source=KYCStatus.IN_REVIEW,
                target=KYCStatus.RESUBMISSION_REQUESTED)
    def request_resubmission(self, *, reviewer, reason: str, now) -> None:
        self._decide(reviewer=reviewer, reason=reason, now=now)

    @transition(field=status, source=KYCStatus.RESUBMISSION_REQUESTED, target=KYCStatus.SUBMITTED)
    def resubmit(self, *, now) -> None:
        self.submitted_at = now

    def _decide(self, *, reviewer, reason: str, now) -> None:
        self.reviewer = reviewer
        self.decision_reason = reason
        self.decided_at = now


class DocumentKind(models.TextChoices):
    PASSPORT = "passport"
    ID_CARD = "id_card"
    DRIVING_LICENCE = "driving_licence"
    PROOF_OF_ADDRESS = "proof_of_address"
    SELFIE = "selfie"


IDENTITY_KINDS = (DocumentKind.PASSPORT, DocumentKind.ID_CARD, DocumentKind.DRIVING_LICENCE)


class KYCDocument(models.Model):
    """One uploaded file, checked by content and stored privately. Append-only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(KYCApplication, on_delete=models.PROTECT,
                                    related_name="documents")
    kind = models.CharField(max_length=32, choices=DocumentKind.choices)
    # Detected from the bytes, never taken from the client's name or Content-Type.
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # Relative to PRIVATE_MEDIA_ROOT; there is deliberately no URL for it.
    storage_path = models.CharField(max_length=255, unique=True)
    original_name = models.CharField(max_length=255, blank=True, default="")
    uploaded_at = models.DateTimeField()

    class Meta:
        verbose_name = "KYC document"
        ordering = ["uploaded_at", "kind"]
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="kyc_document_size_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.content_type}, {self.size} bytes)"


class KYCDocumentAccess(models.Model):
    """Who read which document when. Append-only."""

    document = models.ForeignKey(KYCDocument, on_delete=models.PROTECT, related_name="accesses")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    accessed_at = models.DateTimeField(db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-accessed_at"]

    def __str__(self) -> str:
        return f"{self.staff_id} read {self.document_id} at {self.accessed_at:%Y-%m-%d %H:%M:%S}"


class AMLStatus(models.TextChoices):
    CLEAR = "clear"
    REVIEW = "review"
    BLOCKED = "blocked"


class AMLProfile(models.Model):
    """A player's AML status. No row means `clear`; the row is also the per-player lock
    that serializes every compliance change (KYC submissions and decisions, AML changes)."""

    player = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True,
                                  on_delete=models.PROTECT, related_name="aml_profile")
    status = models.CharField(max_length=16, choices=AMLStatus.choices, default=AMLStatus.CLEAR)
    reason = models.TextField(blank=True, default="")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(bases=[HistoryBase])

    class Meta:
        verbose_name = "AML profile"

    def __str__(self) -> str:
        return f"AML {self.player_id}: {self.status}"
