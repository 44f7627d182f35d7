"""Operator refunds: part or all of a succeeded deposit back to its original method.

Lifecycle (mirrors withdrawals, docs/refunds-fees-affiliates.md):
requested -> approved -> sent -> completed, or rejected (from requested) / failed (from
sent), which return the held funds. The amount leaves the player's cash for reserved when
requested, in the same transaction as the refund row, and leaves reserved for the provider
when the provider's signed webhook (`refund.completed`) confirms.

Four eyes: a refund below REFUND_SECOND_APPROVAL_THRESHOLD (BASE_CURRENCY, converted through
CURRENCY_RATES) is approved by policy as it is requested; at or above it, it waits for a
second staff member, never the requester (also a CHECK constraint).

Lock order: the deposit row (so parallel refunds of one deposit queue and each sees what the
others took), then the refund row, then the player's accounts (ledger_post, in pk order).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django_fsm import can_proceed

from common.db import service_atomic
from common.errors import BadRequest, NotFound
from common.history import save_with_history
from common.metrics import count_money_operation
from common.money import base_amount_to_minor
from common.tasks import enqueue_on_commit
from events.services import emit

from .errors import (
    DepositNotRefundable,
    InvalidTransition,
    RefundExceedsDeposit,
    RefundSelfApprovalRefused,
)
from .fees import fee_apply_quote, fee_postings, fee_quote, fee_record
from .ledger import Posting, hold_funds, ledger_post, posting_accounts, release_hold, system_account
from .models import (
    COUNTED_REFUND_STATUSES,
    AccountKind,
    Deposit,
    DepositStatus,
    FeeOperation,
    Refund,
    RefundStatus,
    TransactionKind,
)


def _payload(refund: Refund, now: datetime, **extra: Any) -> dict:
    return {"player_id": refund.player_id, "currency": refund.currency, "amount": refund.amount,
            "refund_id": str(refund.pk), "deposit_id": str(refund.deposit_id),
            "occurred_at": now.isoformat(), **extra}


def _lock_deposit(deposit_id) -> Deposit:
    try:
        return Deposit.objects.select_for_update().get(pk=deposit_id)
    except (Deposit.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such deposit.") from None


def _lock_refund(refund_id) -> Refund:
    try:
        return Refund.objects.select_for_update().get(pk=refund_id)
    except (Refund.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such refund.") from None


def refunded_total(deposit_id) -> int:
    """What the deposit's refunds take (all but failed and rejected ones), in minor units."""
    return (Refund.objects.filter(deposit_id=deposit_id, status__in=COUNTED_REFUND_STATUSES)
            .aggregate(total=Sum("amount"))["total"] or 0)


def needs_second_approval(refund: Refund) -> bool:
    raw = settings.REFUND_SECOND_APPROVAL_THRESHOLD
    if not raw:
        return False
    return refund.amount >= base_amount_to_minor(raw, refund.currency)


def refund_request(*, deposit_id, amount: int, reason: str, actor, now: datetime) -> Refund:
    """Request a refund of `amount` of a succeeded deposit and hold it from the player's cash.

    Raises BadRequest (reason_required, invalid_amount), NotFound, DepositNotRefundable,
    RefundExceedsDeposit (more than is left of the deposit), InsufficientFunds (the player's
    cash no longer holds it), AmountBelowFee (a player-borne refund fee takes it all). A
    refused request writes nothing.
    """
    if not reason.strip():
        raise BadRequest("A reason is required to refund a deposit.", code="reason_required")
    if not isinstance(amount, int) or amount <= 0:
        raise BadRequest("The amount must be positive.", code="invalid_amount")
    with service_atomic():
        # The deposit row is the lock that serializes refunds of one deposit: of N parallel
        # requests each sees the refunds committed before it, so their sum never exceeds it.
        deposit = _lock_deposit(deposit_id)
        if deposit.status != DepositStatus.SUCCEEDED:
            raise DepositNotRefundable(f"A {deposit.status} deposit cannot be refunded.")
        left = deposit.amount - refunded_total(deposit.pk)
        if amount > left:
            raise RefundExceedsDeposit(extra={"refundable": left})
        refund = Refund(deposit=deposit, player_id=deposit.player_id, amount=amount,
                        currency=deposit.currency, provider=deposit.provider, reason=reason,
                        requested_by=actor)
        fee_apply_quote(refund, fee_quote(provider=deposit.provider, operation=FeeOperation.REFUND,
                                          currency=deposit.currency, amount=amount))
        save_with_history(refund, user=actor, reason=f"refund requested: {reason}")
        hold_funds(player_id=deposit.player_id, currency=deposit.currency, amount=amount,
                   kind=TransactionKind.REFUND_RESERVE, dedupe_key=f"refund:{refund.pk}:reserve",
                   reference=f"refund:{refund.pk}",
                   metadata={"deposit_id": str(deposit.pk)})
        emit(topic="refund.requested", aggregate_type="refund", aggregate_id=refund.pk,
             payload=_payload(refund, now))
        if not needs_second_approval(refund):
            _approve(refund, actor=None, reason="below the second-approval threshold", now=now)
    count_money_operation(kind=TransactionKind.REFUND_RESERVE)
    return refund


def _approve(refund: Refund, *, actor, reason: str, now: datetime) -> None:
    refund.approve()
    refund.approved_by = actor
    save_with_history(refund, user=actor, reason=reason or "approved")
    emit(topic="refund.approved", aggregate_type="refund", aggregate_id=refund.pk,
         payload=_payload(refund, now))
    # Lost on a broker outage? refund_send_pending (beat) sends it later.
    enqueue_on_commit("wallet.tasks.refund_send_task", str(refund.pk))


def refund_approve(*, refund_id, actor, reason: str = "", now: datetime) -> Refund:
    """Give a requested refund its second approval. Raises NotFound, InvalidTransition,
    RefundSelfApprovalRefused (the requester cannot approve)."""
    with service_atomic():
        refund = _lock_refund(refund_id)
        if not can_proceed(refund.approve):
            raise InvalidTransition(f"A {refund.status} refund cannot be approved.")
        if refund.requested_by_id == actor.pk:
            raise RefundSelfApprovalRefused()
        _approve(refund, actor=actor, reason=reason, now=now)
    return refund


def _release(refund: Refund, *, now: datetime, actor=None, reason: str) -> None:
    release_hold(player_id=refund.player_id, currency=refund.currency, amount=refund.amount,
                 kind=TransactionKind.REFUND_RELEASE, dedupe_key=f"refund:{refund.pk}:release",
                 reference=f"refund:{refund.pk}", created_by_id=getattr(actor, "pk", None),
                 reason=reason)
    emit(topic="refund.released", aggregate_type="refund", aggregate_id=refund.pk,
         payload=_payload(refund, now, status=refund.status))


def refund_reject(*, refund_id, actor, reason: str, now: datetime) -> Refund:
    """Reject a requested refund and return the held funds to cash. Raises BadRequest
    (reason_required), NotFound, InvalidTransition."""
    if not reason.strip():
        raise BadRequest("A reason is required to reject a refund.", code="reason_required")
    with service_atomic():
        refund = _lock_refund(refund_id)
        if not can_proceed(refund.reject):
            raise InvalidTransition(f"A {refund.status} refund cannot be rejected.")
        refund.reject(reason=reason)
        save_with_history(refund, user=actor, reason=reason)
        _release(refund, now=now, actor=actor, reason=reason)
    return refund


def refund_send(*, refund_id, now: datetime) -> Refund:
    """Hand an approved refund to its provider (sandbox: no network) -> sent.

    Safe to run twice: a refund no longer approved is left alone.
    """
    with service_atomic():
        refund = _lock_refund(refund_id)
        if refund.status != RefundStatus.APPROVED:
            return refund
        refund.mark_sent()
        save_with_history(refund, reason=f"sent to {refund.provider}")
        emit(topic="refund.sent", aggregate_type="refund", aggregate_id=refund.pk,
             payload=_payload(refund, now))
    return refund


def refund_send_pending(*, now: datetime, older_than_s: int = 60) -> int:
    """Send approved refunds whose send task was lost (broker outage); return how many."""
    cutoff = now - timedelta(seconds=older_than_s)
    ids = list(Refund.objects.filter(status=RefundStatus.APPROVED, updated_at__lt=cutoff)
               .values_list("pk", flat=True)[:500])
    for pk in ids:
        refund_send(refund_id=pk, now=now)
    return len(ids)


def refund_completed(refund: Refund, *, provider_transaction_id: str, now: datetime) -> None:
    """The provider paid the refund out (called by the webhook under the refund's lock)."""
    refund.complete(provider_transaction_id=provider_transaction_id)
    accts = posting_accounts(player_id=refund.player_id, currency=refund.currency)
    clearing = system_account(AccountKind.PROVIDER_CLEARING, refund.currency)
    txn = ledger_post(
        kind=TransactionKind.REFUND_PAID,
        dedupe_key=f"refund:{refund.pk}:paid",
        reference=f"refund:{refund.pk}",
        external_reference=f"{refund.provider}:{provider_transaction_id}",
        metadata={"deposit_id": str(refund.deposit_id)},
        postings=[
            Posting(accts.reserved, -refund.amount),
            Posting(clearing, refund.amount),
            # The player's fee is kept from what is sent back (wallet.fees).
            *fee_postings(refund, player_payer=clearing),
        ],
    )
    fee_record(refund, operation=FeeOperation.REFUND, txn=txn)
    save_with_history(refund, reason=f"provider completed {provider_transaction_id}")
    emit(topic="refund.completed", aggregate_type="refund", aggregate_id=refund.pk,
         payload=_payload(refund, now, provider_transaction_id=provider_transaction_id))
    count_money_operation(kind=TransactionKind.REFUND_PAID)


def refund_failed(refund: Refund, *, provider_transaction_id: str, now: datetime) -> None:
    """The provider could not pay the refund: return the held funds to cash."""
    refund.fail(provider_transaction_id=provider_transaction_id, reason="provider reported failure")
    save_with_history(refund, reason=f"provider failed {provider_transaction_id}")
    _release(refund, now=now, reason="provider reported failure")
