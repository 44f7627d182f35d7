"""Every state change with money attached: deposits, withdrawals, provider callbacks.

Each public function owns its `service_atomic()`: it locks the rows it
changes, re-checks their state, writes the transition and its ledger transaction together,
records an outbox event, and schedules side effects with on_commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django_fsm import can_proceed

from common.db import service_atomic
from common.errors import BadRequest, NotFound, SelfApprovalRefused
from common.gates import GateFlag, Operation, gates_check
from common.history import save_with_history
from common.hooks import hooks_run
from common.metrics import count_duplicate_callback, count_money_operation
from common.money import CURRENCIES, base_amount_to_minor, format_amount, parse_amount
from common.tasks import enqueue_on_commit
from events.services import emit

from .errors import InvalidTransition, WithdrawalCancelNotAllowed
from .fees import fee_apply_quote, fee_postings, fee_quote, fee_record
from .ledger import Posting, hold_funds, ledger_post, player_accounts, release_hold, system_account
from .models import (
    AccountKind,
    Deposit,
    DepositStatus,
    FeeOperation,
    ProviderCallback,
    Refund,
    RefundStatus,
    TransactionKind,
    WebhookOutcome,
    Withdrawal,
    WithdrawalStatus,
)
from .refunds import refund_completed, refund_failed


def _event_payload(obj: Deposit | Withdrawal, now: datetime, **extra: Any) -> dict:
    return {
        "player_id": obj.player_id,
        "currency": obj.currency,
        "amount": obj.amount,
        "occurred_at": now.isoformat(),
        **extra,
    }


# --- deposits ---------------------------------------------------------------------------


def deposit_create(*, player, amount: int, currency: str, provider: str, now: datetime) -> Deposit:
    """Open a pending deposit; the provider's signed webhook completes or fails it.

    Raises whatever the compliance gates raise (AccountRestricted for a blocked player; a
    self-exclusion or time-out 403, limit_exceeded 422) and the prechecks (the external
    self-exclusion register unavailable: 503). A refused deposit writes nothing.
    """
    # Before the transaction: a precheck may call the external self-exclusion register.
    hooks_run("DEPOSIT_PRECHECKS", player=player, now=now)
    with service_atomic():
        gates_check(operation=Operation.DEPOSIT_CREATE, player_id=player.pk, amount=amount,
                    currency=currency, now=now, player=player)
        deposit = Deposit(player=player, amount=amount, currency=currency, provider=provider)
        # The fee is quoted (and shown) now; the credit posts exactly this quote.
        fee_apply_quote(deposit, fee_quote(provider=provider, operation=FeeOperation.DEPOSIT,
                                           currency=currency, amount=amount))
        save_with_history(deposit, user=player, reason="deposit requested")
        emit(topic="deposit.created", aggregate_type="deposit", aggregate_id=deposit.pk,
                    payload=_event_payload(deposit, now, deposit_id=str(deposit.pk)))
    return deposit


def _deposit_succeed(deposit: Deposit, *, provider_transaction_id: str,
                     now: datetime) -> list[GateFlag]:
    # The money is already with the provider: the gates may flag the credit, never refuse it
    # (docs/wallet.md, "Deposits and AML blocks").
    flags = gates_check(operation=Operation.DEPOSIT_CREDIT, player_id=deposit.player_id,
                        amount=deposit.amount, currency=deposit.currency, now=now).flags
    # After the compliance row, before the accounts: a first-deposit bonus (bonuses app).
    hooks_run("DEPOSIT_CREDIT_HOOKS", player_id=deposit.player_id, currency=deposit.currency,
              amount=deposit.amount, deposit_id=deposit.pk, now=now)
    deposit.succeed(provider_transaction_id=provider_transaction_id)
    accts = player_accounts(player_id=deposit.player_id, currency=deposit.currency)
    txn = ledger_post(
        kind=TransactionKind.DEPOSIT,
        dedupe_key=f"deposit:{deposit.pk}:credit",
        reference=f"deposit:{deposit.pk}",
        external_reference=f"{deposit.provider}:{provider_transaction_id}",
        postings=[
            Posting(system_account(AccountKind.PROVIDER_CLEARING, deposit.currency), -deposit.amount),
            Posting(accts.cash, deposit.amount),
            # The player's share of the fee comes out of the credit (wallet.fees).
            *fee_postings(deposit, player_payer=accts.cash),
        ],
    )
    fee_record(deposit, operation=FeeOperation.DEPOSIT, txn=txn)
    deposit.ledger_transaction = txn
    save_with_history(deposit, reason=f"provider confirmed {provider_transaction_id}")
    emit(topic="deposit.succeeded", aggregate_type="deposit", aggregate_id=deposit.pk,
                payload=_event_payload(deposit, now, deposit_id=str(deposit.pk),
                                       provider=deposit.provider,
                                       provider_transaction_id=provider_transaction_id))
    count_money_operation(kind=TransactionKind.DEPOSIT)
    return flags


def _deposit_fail(deposit: Deposit, *, provider_transaction_id: str, now: datetime) -> None:
    deposit.fail(provider_transaction_id=provider_transaction_id, reason="provider reported failure")
    # A failed deposit no longer counts against the player's deposit limits.
    hooks_run("DEPOSIT_FAILED_HOOKS", player_id=deposit.player_id, currency=deposit.currency,
              amount=deposit.amount, requested_at=deposit.created_at, now=now)
    save_with_history(deposit, reason=f"provider failed {provider_transaction_id}")
    emit(topic="deposit.failed", aggregate_type="deposit", aggregate_id=deposit.pk,
                payload=_event_payload(deposit, now, deposit_id=str(deposit.pk)))


# --- withdrawals ------------------------------------------------------------------------


def _lock_withdrawal(withdrawal_id, *, player=None) -> Withdrawal:
    qs = Withdrawal.objects.select_for_update()
    if player is not None:
        qs = qs.filter(player=player)
    try:
        return qs.get(pk=withdrawal_id)
    except (Withdrawal.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such withdrawal.") from None


def withdrawal_request(*, player, amount: int, currency: str, destination: str,
                       now: datetime, forfeit_bonus: bool = False) -> Withdrawal:
    """Create a withdrawal and reserve its amount in the same transaction.

    Raises InsufficientFunds, AmountBelowFee, whatever the compliance gates raise (KYCRequired,
    AccountRestricted), and whatever WITHDRAWAL_REQUEST_HOOKS raise (an open bonus without
    `forfeit_bonus`: 409 bonus_forfeit_confirmation_required).
    """
    with service_atomic():
        # Compliance row, then accounts (in hold_funds): a block committing meanwhile either
        # waits for this withdrawal or refuses it.
        gates_check(operation=Operation.WITHDRAWAL_REQUEST, player_id=player.pk, amount=amount,
                    currency=currency, now=now, player=player)
        # After the compliance row, before the accounts: an open bonus is forfeited, if the
        # player confirmed it (bonuses app).
        hooks_run("WITHDRAWAL_REQUEST_HOOKS", player_id=player.pk, currency=currency,
                  amount=amount, forfeit_bonus=forfeit_bonus, now=now)
        withdrawal = Withdrawal(player=player, amount=amount, currency=currency,
                                destination=destination)
        fee_apply_quote(withdrawal, fee_quote(provider=withdrawal.provider,
                                              operation=FeeOperation.WITHDRAWAL,
                                              currency=currency, amount=amount))
        save_with_history(withdrawal, user=player, reason="withdrawal requested")
        # The ledger locks the player's accounts and refuses the overdraft: of N parallel
        # requests for the whole balance exactly one gets past this line.
        hold_funds(player_id=player.pk, currency=currency, amount=amount,
                   kind=TransactionKind.WITHDRAWAL_RESERVE,
                   dedupe_key=f"withdrawal:{withdrawal.pk}:reserve",
                   reference=f"withdrawal:{withdrawal.pk}")
        emit(topic="withdrawal.requested", aggregate_type="withdrawal",
                    aggregate_id=withdrawal.pk,
                    payload=_event_payload(withdrawal, now, withdrawal_id=str(withdrawal.pk)))
    count_money_operation(kind=TransactionKind.WITHDRAWAL_RESERVE)
    return withdrawal


def _release(withdrawal: Withdrawal, *, now: datetime, actor=None, reason: str) -> None:
    release_hold(player_id=withdrawal.player_id, currency=withdrawal.currency,
                 amount=withdrawal.amount, kind=TransactionKind.WITHDRAWAL_RELEASE,
                 dedupe_key=f"withdrawal:{withdrawal.pk}:release",
                 reference=f"withdrawal:{withdrawal.pk}",
                 created_by_id=getattr(actor, "pk", None), reason=reason)
    emit(topic="withdrawal.released", aggregate_type="withdrawal", aggregate_id=withdrawal.pk,
                payload=_event_payload(withdrawal, now, withdrawal_id=str(withdrawal.pk),
                                       status=withdrawal.status))


def _needs_second_approval(withdrawal: Withdrawal) -> bool:
    raw = settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD
    if not raw:
        return False
    # Written in BASE_CURRENCY, converted through CURRENCY_RATES (common.money).
    return withdrawal.amount >= base_amount_to_minor(raw, withdrawal.currency)


def _refuse_own(withdrawal: Withdrawal, actor) -> None:
    # Separation of duties; the database backs it (withdrawal_decider_not_player CHECKs).
    if actor is not None and withdrawal.player_id == actor.pk:
        raise SelfApprovalRefused("Another staff member must decide on your own withdrawal.")


def withdrawal_approve(*, withdrawal_id, actor, reason: str = "", now: datetime) -> Withdrawal:
    """Approve a requested withdrawal (two different approvers above the threshold).

    Raises NotFound, InvalidTransition, SelfApprovalRefused (the approver's own withdrawal,
    or the first approver again), and whatever the compliance gates raise (AccountRestricted
    once the player is blocked).
    """
    with service_atomic():
        withdrawal = _lock_withdrawal(withdrawal_id)
        if not can_proceed(withdrawal.approve):
            raise InvalidTransition(f"A {withdrawal.status} withdrawal cannot be approved.")
        _refuse_own(withdrawal, actor)
        gates_check(operation=Operation.WITHDRAWAL_APPROVE, player_id=withdrawal.player_id,
                    amount=withdrawal.amount, currency=withdrawal.currency, now=now)
        if _needs_second_approval(withdrawal):
            if withdrawal.decided_by_id is None:
                withdrawal.decided_by = actor
                save_with_history(withdrawal, user=actor,
                                  reason=f"first approval: {reason}".strip(": "))
                return withdrawal
            if withdrawal.decided_by_id == actor.pk:
                raise SelfApprovalRefused(
                    "This withdrawal needs a second approval by a different staff member.")
            withdrawal.second_approver = actor
        else:
            withdrawal.decided_by = actor
        withdrawal.approve()
        save_with_history(withdrawal, user=actor, reason=reason or "approved")
        emit(topic="withdrawal.approved", aggregate_type="withdrawal",
                    aggregate_id=withdrawal.pk,
                    payload=_event_payload(withdrawal, now, withdrawal_id=str(withdrawal.pk)))
        # Lost on a broker outage? withdrawal_send_pending (beat) sends it later.
        enqueue_on_commit("wallet.tasks.withdrawal_send_task", str(withdrawal.pk))
    return withdrawal


def withdrawal_send_pending(*, now: datetime, older_than_s: int = 60) -> int:
    """Send approved withdrawals whose send task was lost (broker outage); return how many."""
    cutoff = now - timedelta(seconds=older_than_s)
    ids = list(Withdrawal.objects.filter(status=WithdrawalStatus.APPROVED, updated_at__lt=cutoff)
               .values_list("pk", flat=True)[:500])
    for pk in ids:
        withdrawal_send(withdrawal_id=pk, now=now)
    return len(ids)


def withdrawal_reject(*, withdrawal_id, actor, reason: str, now: datetime) -> Withdrawal:
    """Reject a withdrawal and return its reserved funds.

    Raises NotFound, InvalidTransition, SelfApprovalRefused (the actor's own withdrawal).
    """
    if not reason.strip():
        raise BadRequest("A reason is required to reject a withdrawal.", code="reason_required")
    with service_atomic():
        withdrawal = _lock_withdrawal(withdrawal_id)
        if not can_proceed(withdrawal.reject):
            raise InvalidTransition(f"A {withdrawal.status} withdrawal cannot be rejected.")
        _refuse_own(withdrawal, actor)
        withdrawal.reject(reason=reason)
        withdrawal.decided_by = withdrawal.decided_by or actor
        save_with_history(withdrawal, user=actor, reason=reason)
        _release(withdrawal, now=now, actor=actor, reason=reason)
    return withdrawal


def withdrawal_cancel(*, withdrawal_id, player, now: datetime) -> Withdrawal:
    """Let a player cancel a still-requested withdrawal, where the operator allows it.

    Raises WithdrawalCancelNotAllowed, NotFound, InvalidTransition.
    """
    if not settings.WITHDRAWAL_PLAYER_CANCEL_ALLOWED:
        raise WithdrawalCancelNotAllowed()
    with service_atomic():
        withdrawal = _lock_withdrawal(withdrawal_id, player=player)
        if not can_proceed(withdrawal.cancel):
            raise InvalidTransition(f"A {withdrawal.status} withdrawal cannot be cancelled.")
        withdrawal.cancel()
        save_with_history(withdrawal, user=player, reason="cancelled by player")
        _release(withdrawal, now=now, actor=player, reason="cancelled by player")
    return withdrawal


def withdrawal_send(*, withdrawal_id, now: datetime) -> Withdrawal:
    """Hand an approved withdrawal to its provider (sandbox: no network) -> processing.

    Safe to run twice: a withdrawal no longer approved is left alone.
    """
    with service_atomic():
        withdrawal = _lock_withdrawal(withdrawal_id)
        if withdrawal.status != WithdrawalStatus.APPROVED:
            return withdrawal
        withdrawal.start_processing()
        save_with_history(withdrawal, reason=f"sent to {withdrawal.provider}")
        emit(topic="withdrawal.processing", aggregate_type="withdrawal",
                    aggregate_id=withdrawal.pk,
                    payload=_event_payload(withdrawal, now, withdrawal_id=str(withdrawal.pk)))
    return withdrawal


def _withdrawal_paid(withdrawal: Withdrawal, *, provider_transaction_id: str, now: datetime) -> None:
    withdrawal.mark_paid(provider_transaction_id=provider_transaction_id)
    accts = player_accounts(player_id=withdrawal.player_id, currency=withdrawal.currency)
    clearing = system_account(AccountKind.PROVIDER_CLEARING, withdrawal.currency)
    txn = ledger_post(
        kind=TransactionKind.WITHDRAWAL_PAID,
        dedupe_key=f"withdrawal:{withdrawal.pk}:paid",
        reference=f"withdrawal:{withdrawal.pk}",
        external_reference=f"{withdrawal.provider}:{provider_transaction_id}",
        postings=[
            Posting(accts.reserved, -withdrawal.amount),
            Posting(clearing, withdrawal.amount),
            # The player's fee is kept from what is sent (wallet.fees).
            *fee_postings(withdrawal, player_payer=clearing),
        ],
    )
    fee_record(withdrawal, operation=FeeOperation.WITHDRAWAL, txn=txn)
    save_with_history(withdrawal, reason=f"provider paid {provider_transaction_id}")
    emit(topic="withdrawal.paid", aggregate_type="withdrawal", aggregate_id=withdrawal.pk,
                payload=_event_payload(withdrawal, now, withdrawal_id=str(withdrawal.pk)))
    count_money_operation(kind=TransactionKind.WITHDRAWAL_PAID)


def _withdrawal_failed(withdrawal: Withdrawal, *, provider_transaction_id: str, now: datetime) -> None:
    withdrawal.mark_failed(provider_transaction_id=provider_transaction_id,
                           reason="provider reported failure")
    save_with_history(withdrawal, reason=f"provider failed {provider_transaction_id}")
    _release(withdrawal, now=now, reason="provider reported failure")


# --- provider callbacks -------------------------------------------------------------------

# The model is Any: the event names which of the three it is, and the dispatch below relies on it.
WEBHOOK_EVENTS: dict[str, tuple[Any, str]] = {
    "deposit.succeeded": (Deposit, DepositStatus.PENDING),
    "deposit.failed": (Deposit, DepositStatus.PENDING),
    "withdrawal.paid": (Withdrawal, WithdrawalStatus.PROCESSING),
    "withdrawal.failed": (Withdrawal, WithdrawalStatus.PROCESSING),
    "refund.completed": (Refund, RefundStatus.SENT),
    "refund.failed": (Refund, RefundStatus.SENT),
}


@dataclass(frozen=True)
class CallbackResult:
    status_code: int
    body: dict


@dataclass(frozen=True)
class CallbackInput:
    event: str
    provider_transaction_id: str
    reference: str
    amount_raw: str
    currency: str


def callback_parse(payload: Any) -> CallbackInput:
    """Validate a webhook body's shape. Raises BadRequest (400 invalid_payload)."""
    if not isinstance(payload, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_payload")
    fields = ["event", "provider_transaction_id", "reference", "amount", "currency"]
    missing = [f for f in fields if not isinstance(payload.get(f), str) or not payload.get(f)]
    if missing:
        raise BadRequest(f"Missing or non-string fields: {', '.join(missing)}.",
                         code="invalid_payload")
    if payload["event"] not in WEBHOOK_EVENTS:
        raise BadRequest("Unknown event.", code="unknown_event")
    if len(payload["provider_transaction_id"]) > 200 or len(payload["reference"]) > 64:
        raise BadRequest("Identifier too long.", code="invalid_payload")
    return CallbackInput(event=payload["event"],
                         provider_transaction_id=payload["provider_transaction_id"],
                         reference=payload["reference"], amount_raw=payload["amount"],
                         currency=payload["currency"])


def _duplicate_body(callback: ProviderCallback) -> CallbackResult:
    return CallbackResult(200, {**callback.response_body, "duplicate": True})


def provider_callback_apply(*, provider: str, data: CallbackInput, payload: dict,
                            now: datetime) -> CallbackResult:
    """Apply a verified provider callback exactly once and record it before answering.

    A repeat of (provider, provider_transaction_id) answers 200 with the original outcome.
    Amount or currency disagreeing with our record is refused and flagged for review.
    """
    existing = _final_callback(provider, data.provider_transaction_id)
    if existing:
        count_duplicate_callback(provider=provider)
        return _duplicate_body(existing)

    try:
        return _callback_apply_once(provider=provider, data=data, payload=payload, now=now)
    except IntegrityError:
        # A concurrent callback with the same provider transaction id committed first (the
        # UNIQUE index caught it, e.g. for an unknown reference, where there is no row to
        # lock). Ours rolled back whole: answer with the one that won.
        existing = _final_callback(provider, data.provider_transaction_id)
        if existing is None:
            raise
        count_duplicate_callback(provider=provider)
        return _duplicate_body(existing)


def _callback_apply_once(*, provider: str, data: CallbackInput, payload: dict,
                         now: datetime) -> CallbackResult:
    model, open_status = WEBHOOK_EVENTS[data.event]
    with service_atomic():
        target = model.objects.select_for_update().filter(pk=_uuid_or_none(data.reference)).first()
        # Re-check under the lock: an identical callback may have committed while we waited.
        existing = _final_callback(provider, data.provider_transaction_id)
        if existing:
            count_duplicate_callback(provider=provider)
            return _duplicate_body(existing)

        outcome, code, detail, status_code = _judge(target, data, provider, open_status)
        body: dict[str, Any] = {"outcome": outcome, "reference": data.reference}
        flags: list[GateFlag] = []
        if outcome == WebhookOutcome.APPLIED:
            if data.event == "deposit.succeeded":
                flags = _deposit_succeed(target, provider_transaction_id=data.provider_transaction_id,
                                         now=now)
                if flags:  # applied, and waiting for staff review (an AML block)
                    code, detail = flags[0].code, "; ".join(f.detail for f in flags)
            elif data.event == "deposit.failed":
                _deposit_fail(target, provider_transaction_id=data.provider_transaction_id, now=now)
            elif data.event == "withdrawal.paid":
                _withdrawal_paid(target, provider_transaction_id=data.provider_transaction_id, now=now)
            elif data.event == "refund.completed":
                refund_completed(target, provider_transaction_id=data.provider_transaction_id, now=now)
            elif data.event == "refund.failed":
                refund_failed(target, provider_transaction_id=data.provider_transaction_id, now=now)
            else:
                _withdrawal_failed(target, provider_transaction_id=data.provider_transaction_id, now=now)
            body["status"] = target.status
        else:
            body.update({"code": code, "detail": detail})
        retryable = code == "not_ready"
        if retryable:
            body["retryable"] = True
        ProviderCallback.objects.create(
            provider=provider, provider_transaction_id=data.provider_transaction_id,
            event=data.event, reference=data.reference, payload=payload, outcome=outcome,
            outcome_code=code, outcome_detail=detail,
            needs_review=(outcome == WebhookOutcome.FLAGGED and not retryable) or bool(flags),
            retryable=retryable,
            response_body={**body, "http_status": status_code},
        )
    return CallbackResult(status_code, {**body, "http_status": status_code})


def _final_callback(provider: str, provider_transaction_id: str) -> ProviderCallback | None:
    return ProviderCallback.objects.filter(provider=provider, retryable=False,
                                           provider_transaction_id=provider_transaction_id).first()


# A callback about a target still in one of these states came too early (a withdrawal paid
# before our send committed): refused, and the provider's retry is judged again.
_NOT_YET = {Withdrawal: (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED),
            Refund: (RefundStatus.REQUESTED, RefundStatus.APPROVED)}


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _judge(target, data: CallbackInput, provider: str, open_status: str) -> tuple[str, str, str, int]:
    """Decide what a callback may do to its target: (outcome, code, detail, http status)."""
    if target is None:
        return (WebhookOutcome.FLAGGED, "unknown_reference",
                "No deposit, withdrawal or refund has this reference.", 404)
    if target.provider != provider:
        return (WebhookOutcome.FLAGGED, "provider_mismatch",
                "The reference belongs to another provider.", 409)
    if data.currency not in CURRENCIES or data.currency != target.currency:
        return (WebhookOutcome.FLAGGED, "currency_mismatch",
                f"Expected {target.currency}.", 422)
    try:
        amount = parse_amount(data.amount_raw, data.currency)
    except Exception:  # noqa: BLE001 - any unparsable amount disagrees with our record
        amount = None
    if amount != target.amount:
        return (WebhookOutcome.FLAGGED, "amount_mismatch",
                f"Expected {format_amount(target.amount, target.currency)} {target.currency}.", 422)
    if target.status in _NOT_YET.get(type(target), ()):
        return (WebhookOutcome.FLAGGED, "not_ready",
                f"The {target._meta.model_name} is {target.status}; retry later.", 409)
    if target.status != open_status:
        return (WebhookOutcome.FLAGGED, "invalid_state",
                f"The {target._meta.model_name} is {target.status}.", 409)
    return WebhookOutcome.APPLIED, "", "", 200
