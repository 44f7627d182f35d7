"""Backoffice state changes: four-eyes manual adjustments and the audit-export record."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django_fsm import can_proceed

from common.db import service_atomic
from common.errors import NotFound
from common.history import save_with_history
from common.money import CURRENCIES, parse_amount
from events.services import emit
from users.models import User
from wallet.ledger import Posting, ledger_post, player_accounts, system_account
from wallet.models import AccountKind, Deposit, ProviderCallback, TransactionKind, Withdrawal

from .errors import (
    AdjustmentNotPending,
    CallbackNotReviewable,
    InvalidAdjustment,
    NotAPlayer,
    NoteInvalid,
    ReasonRequired,
    RoleRequired,
    SelfApprovalRefused,
)
from .models import AuditExport, CallbackResolution, CallbackReview, ManualAdjustment, PlayerNote


def require_permission(user, codename: str) -> None:
    """Raise RoleRequired unless the active, staff `user` holds backoffice.<codename>."""
    if not (user and user.is_active and user.is_staff and user.has_perm(f"backoffice.{codename}")):
        raise RoleRequired()


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason


def adjustment_propose(*, player_id: int, currency: str, amount: int, reason: str, actor,
                       now: datetime) -> ManualAdjustment:
    """Record a proposed credit (+) or debit (-) of a player's cash; no money moves yet.

    Raises RoleRequired, ReasonRequired, InvalidAdjustment, NotFound.
    """
    require_permission(actor, "propose_adjustment")
    reason = _require_reason(reason)
    if currency not in CURRENCIES:
        raise InvalidAdjustment("Unknown currency.", code="unknown_currency")
    limit = parse_amount(settings.BACKOFFICE_ADJUSTMENT_MAX, currency)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0 or abs(amount) > limit:
        raise InvalidAdjustment()
    with service_atomic():
        return _adjustment_create(player_id=player_id, currency=currency, amount=amount,
                                  reason=reason, actor=actor, now=now)


def _adjustment_create(*, player_id: int, currency: str, amount: int, reason: str, actor,
                       now: datetime) -> ManualAdjustment:
    if not User.objects.filter(pk=player_id, is_staff=False).exists():
        raise NotFound("No such player.")
    adjustment = ManualAdjustment(player_id=player_id, currency=currency, amount=amount,
                                  reason=reason, proposed_by=actor, proposed_at=now)
    save_with_history(adjustment, user=actor, reason=f"proposed: {reason}")
    return adjustment


def _lock_adjustment(adjustment_id) -> ManualAdjustment:
    try:
        return ManualAdjustment.objects.select_for_update().get(pk=adjustment_id)
    except (ManualAdjustment.DoesNotExist, ValueError):
        raise NotFound("No such adjustment.") from None


def adjustment_approve(*, adjustment_id, actor, reason: str, now: datetime) -> ManualAdjustment:
    """Approve a proposal of another staff member and post it to the ledger, once.

    Raises RoleRequired, ReasonRequired, NotFound, SelfApprovalRefused, AdjustmentNotPending,
    InsufficientFunds (a debit larger than the player's cash; nothing is written).
    """
    require_permission(actor, "approve_adjustment")
    reason = _require_reason(reason)
    with service_atomic():
        adjustment = _lock_adjustment(adjustment_id)
        if not can_proceed(adjustment.approve):
            raise AdjustmentNotPending()
        if adjustment.proposed_by_id == actor.pk:
            raise SelfApprovalRefused("A second staff member must approve what you proposed.")
        accts = player_accounts(player_id=adjustment.player_id, currency=adjustment.currency)
        pool = system_account(AccountKind.ADJUSTMENTS, adjustment.currency)
        txn = ledger_post(
            kind=TransactionKind.ADJUSTMENT,
            dedupe_key=f"adjustment:{adjustment.pk}",
            reference=f"adjustment:{adjustment.pk}",
            postings=[Posting(accts.cash, adjustment.amount), Posting(pool, -adjustment.amount)],
            created_by_id=actor.pk,
            reason=f"{adjustment.reason} | approved: {reason}",
            metadata={"adjustment_id": adjustment.pk, "proposed_by": adjustment.proposed_by_id,
                      "approved_by": actor.pk},
        )
        adjustment.approve(by=actor, reason=reason, now=now, ledger_transaction=txn)
        save_with_history(adjustment, user=actor, reason=f"approved: {reason}")
        emit(
            topic="adjustment.posted", aggregate_type="adjustment", aggregate_id=adjustment.pk,
            payload={"adjustment_id": adjustment.pk, "player_id": adjustment.player_id,
                     "currency": adjustment.currency, "amount": adjustment.amount,
                     "occurred_at": now.isoformat()},
        )
    return adjustment


def adjustment_reject(*, adjustment_id, actor, reason: str, now: datetime) -> ManualAdjustment:
    """Reject a proposal (by someone other than its proposer); no money moves.

    Raises RoleRequired, ReasonRequired, NotFound, SelfApprovalRefused, AdjustmentNotPending.
    """
    require_permission(actor, "approve_adjustment")
    reason = _require_reason(reason)
    with service_atomic():
        adjustment = _lock_adjustment(adjustment_id)
        if not can_proceed(adjustment.reject):
            raise AdjustmentNotPending()
        if adjustment.proposed_by_id == actor.pk:
            raise SelfApprovalRefused("Another staff member must decide what you proposed.")
        adjustment.reject(by=actor, reason=reason, now=now)
        save_with_history(adjustment, user=actor, reason=f"rejected: {reason}")
    return adjustment


def audit_export_start(*, actor, fmt: str, filters: dict, channel: str, reason: str = "",
                       now: datetime) -> AuditExport:
    """Record that an export begins (who, filters). Raises RoleRequired."""
    if actor is not None:  # None: run from the command line by an operator with shell access
        require_permission(actor, "export_audit")
    with service_atomic():
        return AuditExport.objects.create(requested_by=actor, format=fmt, filters=filters,
                                          channel=channel, reason=reason, started_at=now)


def audit_export_finish(*, export_id: int, row_count: int, byte_count: int, sha256: str,
                        now: datetime) -> None:
    """Complete an export's record with what was actually delivered."""
    with service_atomic():
        AuditExport.objects.filter(pk=export_id, completed_at__isnull=True).update(
            row_count=row_count, byte_count=byte_count, sha256=sha256, completed_at=now
        )


NOTE_MAX_LENGTH = 4000


def player_note_add(*, player_id: int, author, body: str, now: datetime) -> PlayerNote:
    """Append an internal note to a player. Raises NoteInvalid, NotAPlayer."""
    body = (body or "").strip()
    if not body or len(body) > NOTE_MAX_LENGTH or "\x00" in body:
        raise NoteInvalid()
    with service_atomic():
        if not User.objects.filter(pk=player_id, is_staff=False).exists():
            raise NotAPlayer()
        return PlayerNote.objects.create(player_id=player_id, author=author, body=body,
                                         created_at=now)


# --- provider callbacks awaiting review -------------------------------------------------


def _callback_player_id(callback: ProviderCallback) -> int | None:
    for model in (Deposit, Withdrawal):
        try:
            player_id = (model.objects.filter(pk=callback.reference)
                         .values_list("player_id", flat=True).first())
        except (ValueError, DjangoValidationError):
            return None
        if player_id is not None:
            return player_id
    return None


def callback_currency(*, callback_id: int) -> str:
    """The currency of a provider callback (to parse a credit). Raises NotFound,
    InvalidAdjustment."""
    payload = ProviderCallback.objects.filter(pk=callback_id).values_list("payload", flat=True).first()
    if payload is None:
        raise NotFound("No such provider callback.")
    currency = str(payload.get("currency", "")) if isinstance(payload, dict) else ""
    if currency not in CURRENCIES:
        raise InvalidAdjustment("The callback has no valid currency.", code="unknown_currency")
    return currency


def callback_review_resolve(*, callback_id: int, actor, reason: str, now: datetime,
                            credit_amount: int | None = None,
                            player_id: int | None = None) -> CallbackReview:
    """Close a provider callback that needed review, with a reason; where money is due,
    propose it as a four-eyes credit adjustment (a second staff member approves it).

    `player_id` defaults to the owner of the callback's deposit or withdrawal. Raises
    RoleRequired, ReasonRequired, NotFound, CallbackNotReviewable (not flagged, or already
    resolved), InvalidAdjustment.
    """
    require_permission(actor, "propose_adjustment")
    reason = _require_reason(reason)
    with service_atomic():
        # The lock serializes two reviewers; the OneToOne index is the last line of defence.
        callback = ProviderCallback.objects.select_for_update().filter(pk=callback_id).first()
        if callback is None:
            raise NotFound("No such provider callback.")
        if not callback.needs_review or CallbackReview.objects.filter(callback=callback).exists():
            raise CallbackNotReviewable()
        adjustment = None
        if credit_amount is not None:
            currency = str(callback.payload.get("currency", ""))
            if currency not in CURRENCIES:
                raise InvalidAdjustment("The callback has no valid currency.", code="unknown_currency")
            limit = parse_amount(settings.BACKOFFICE_ADJUSTMENT_MAX, currency)
            if not isinstance(credit_amount, int) or not 0 < credit_amount <= limit:
                raise InvalidAdjustment()
            owner = player_id or _callback_player_id(callback)
            if owner is None:
                raise InvalidAdjustment("Name the player to credit.", code="player_required")
            adjustment = _adjustment_create(
                player_id=owner, currency=currency, amount=credit_amount, actor=actor, now=now,
                reason=f"provider callback {callback.provider}:{callback.provider_transaction_id}"
                       f" ({callback.outcome_code}): {reason}")
        review = CallbackReview.objects.create(
            callback=callback, reason=reason, reviewed_by=actor, reviewed_at=now,
            resolution=(CallbackResolution.CREDIT_PROPOSED if adjustment
                        else CallbackResolution.NO_ACTION),
            adjustment=adjustment)
        emit(topic="provider_callback.reviewed", aggregate_type="provider_callback",
             aggregate_id=callback.pk,
             payload={"callback_id": callback.pk, "resolution": review.resolution,
                      "adjustment_id": getattr(adjustment, "pk", None),
                      "occurred_at": now.isoformat()})
    return review
