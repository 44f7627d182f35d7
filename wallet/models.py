"""The double-entry ledger, deposits, withdrawals and provider callbacks.

Invariants the database enforces (see migrations):
- entries and transactions are append-only (trigger refuses UPDATE/DELETE);
- the entries of a transaction sum to zero per currency (deferred constraint trigger);
- a player account's materialized balance is never negative (CHECK);
- one dedupe key, at most one ledger transaction (UNIQUE).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from common.history import FSMHistoryBase
from common.money import format_amount


class AccountKind(models.TextChoices):
    CASH = "cash"
    BONUS = "bonus"
    RESERVED = "reserved"
    # System accounts: no owner, no materialized balance (derived from entries).
    HOUSE = "house"
    PROVIDER_CLEARING = "provider_clearing"
    WITHDRAWALS_IN_FLIGHT = "withdrawals_in_flight"
    ADJUSTMENTS = "adjustments"
    # Payment-provider fees charged on deposits, withdrawals and refunds (wallet.fees).
    FEES = "fees"
    # Commission owed to affiliates by the monthly close, less what was paid out.
    AFFILIATE_PAYABLE = "affiliate_payable"


PLAYER_KINDS = (AccountKind.CASH, AccountKind.BONUS, AccountKind.RESERVED)
SYSTEM_KINDS = (
    AccountKind.HOUSE,
    AccountKind.PROVIDER_CLEARING,
    AccountKind.WITHDRAWALS_IN_FLIGHT,
    AccountKind.ADJUSTMENTS,
    AccountKind.FEES,
    AccountKind.AFFILIATE_PAYABLE,
)


class Account(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="accounts",
    )
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    currency = models.CharField(max_length=8)
    # Materialized for player accounts only; changed solely by wallet.ledger.ledger_post
    # under SELECT ... FOR UPDATE. Always 0 on system accounts.
    balance = models.BigIntegerField(default=0)
    # Head of this account's entry hash chain (tamper evidence), player accounts only.
    chain_head = models.CharField(max_length=64, default="", blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "kind", "currency"], condition=Q(owner__isnull=False),
                name="account_unique_player_kind_currency",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"], condition=Q(owner__isnull=True),
                name="account_unique_system_kind_currency",
            ),
            models.CheckConstraint(
                condition=Q(owner__isnull=True) | Q(balance__gte=0),
                name="account_player_balance_non_negative",
            ),
            models.CheckConstraint(
                condition=(Q(owner__isnull=False) & Q(kind__in=PLAYER_KINDS))
                | (Q(owner__isnull=True) & Q(kind__in=SYSTEM_KINDS) & Q(balance=0)),
                name="account_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        who = self.owner_id if self.owner_id else "system"
        return f"{who}:{self.kind}:{self.currency}"

    @property
    def is_system(self) -> bool:
        return self.owner_id is None


class TransactionKind(models.TextChoices):
    DEPOSIT = "deposit"
    WITHDRAWAL_RESERVE = "withdrawal_reserve"
    WITHDRAWAL_RELEASE = "withdrawal_release"
    WITHDRAWAL_SEND = "withdrawal_send"
    WITHDRAWAL_PAID = "withdrawal_paid"
    WITHDRAWAL_RETURN = "withdrawal_return"
    BET_STAKE = "bet_stake"
    BET_SETTLE = "bet_settle"
    ROUND_STAKE = "round_stake"
    ROUND_SETTLE = "round_settle"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"
    # Seamless-wallet casino (casino app): the provider's bets, wins and rollbacks.
    CASINO_BET = "casino_bet"
    CASINO_WIN = "casino_win"
    CASINO_ROLLBACK = "casino_rollback"
    # Operator refunds of a deposit to its original method (wallet.refunds).
    REFUND_RESERVE = "refund_reserve"
    REFUND_RELEASE = "refund_release"
    REFUND_PAID = "refund_paid"
    # Affiliate commissions (affiliates app): the monthly close and payouts.
    AFFILIATE_COMMISSION = "affiliate_commission"
    AFFILIATE_PAYOUT = "affiliate_payout"


class Transaction(models.Model):
    kind = models.CharField(max_length=32, choices=TransactionKind.choices)
    # Names the business event ("deposit:42:credit"): a second posting of the same event
    # is refused by the database, whatever path it came by.
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    reference = models.CharField(max_length=200, blank=True, default="", db_index=True)
    external_reference = models.CharField(max_length=200, blank=True, default="")
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.reference}"


class Entry(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    currency = models.CharField(max_length=8)
    amount = models.BigIntegerField()
    # Balance of a player account right after this entry; NULL for system accounts.
    balance_after = models.BigIntegerField(null=True, blank=True)
    # sha256(prev_hash | canonical row) for player accounts: see wallet.chain.
    prev_hash = models.CharField(max_length=64, default="", blank=True)
    hash = models.CharField(max_length=64, default="", blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "id"], name="entry_account_id")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_non_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {format_amount(self.amount, self.currency)}"


class PaymentProvider(models.TextChoices):
    SANDBOX = "sandbox"


class DepositStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Deposit(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deposits")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    provider = models.CharField(max_length=32, choices=PaymentProvider.choices)
    provider_transaction_id = models.CharField(max_length=200, blank=True, default="")
    status = FSMField(default=DepositStatus.PENDING, choices=DepositStatus.choices, protected=True)
    failure_reason = models.TextField(blank=True, default="")
    # The fee quoted when the operation was opened (wallet.fees), posted when it completes.
    fee_amount = models.BigIntegerField(default=0)
    fee_bearer = models.CharField(max_length=16, blank=True, default="")
    fee_schedule = models.ForeignKey("FeeSchedule", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    ledger_transaction = models.OneToOneField(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="deposit_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"deposit {self.pk} {format_amount(self.amount, self.currency)} {self.currency} ({self.status})"

    @transition(field=status, source=DepositStatus.PENDING, target=DepositStatus.SUCCEEDED)
    def succeed(self, *, provider_transaction_id: str) -> None:
        self.provider_transaction_id = provider_transaction_id

    @transition(field=status, source=DepositStatus.PENDING, target=DepositStatus.FAILED)
    def fail(self, *, provider_transaction_id: str, reason: str) -> None:
        self.provider_transaction_id = provider_transaction_id
        self.failure_reason = reason


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested"
    APPROVED = "approved"
    PROCESSING = "processing"
    PAID = "paid"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"


OPEN_WITHDRAWAL_STATUSES = (
    WithdrawalStatus.REQUESTED,
    WithdrawalStatus.APPROVED,
    WithdrawalStatus.PROCESSING,
)


class Withdrawal(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    destination = models.CharField(max_length=200)
    provider = models.CharField(max_length=32, choices=PaymentProvider.choices, default=PaymentProvider.SANDBOX)
    provider_transaction_id = models.CharField(max_length=200, blank=True, default="")
    status = FSMField(default=WithdrawalStatus.REQUESTED, choices=WithdrawalStatus.choices, protected=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    second_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True, default="")
    # The fee quoted when the operation was opened (wallet.fees), posted when it completes.
    fee_amount = models.BigIntegerField(default=0)
    fee_bearer = models.CharField(max_length=16, blank=True, default="")
    fee_schedule = models.ForeignKey("FeeSchedule", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive"),
            # Separation of duties, below the service: nobody decides on their own
            # withdrawal, and the second approval is somebody else's.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("player")),
                name="withdrawal_decider_not_player",
            ),
            models.CheckConstraint(
                condition=Q(second_approver__isnull=True)
                | (~Q(second_approver=F("player")) & ~Q(second_approver=F("decided_by"))),
                name="withdrawal_second_approver_not_player_nor_first",
            ),
        ]

    def __str__(self) -> str:
        return f"withdrawal {self.pk} {format_amount(self.amount, self.currency)} {self.currency} ({self.status})"

    @transition(field=status, source=WithdrawalStatus.REQUESTED, target=WithdrawalStatus.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=status, source=WithdrawalStatus.APPROVED, target=WithdrawalStatus.PROCESSING)
    def start_processing(self) -> None:
        pass

    @transition(field=status, source=WithdrawalStatus.PROCESSING, target=WithdrawalStatus.PAID)
    def mark_paid(self, *, provider_transaction_id: str) -> None:
        self.provider_transaction_id = provider_transaction_id

    @transition(field=status, source=WithdrawalStatus.PROCESSING, target=WithdrawalStatus.FAILED)
    def mark_failed(self, *, provider_transaction_id: str, reason: str) -> None:
        self.provider_transaction_id = provider_transaction_id
        self.reason = reason

    @transition(field=status, source=[WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED],
                target=WithdrawalStatus.REJECTED)
    def reject(self, *, reason: str) -> None:
        self.reason = reason

    @transition(field=status, source=WithdrawalStatus.REQUESTED, target=WithdrawalStatus.CANCELLED)
    def cancel(self) -> None:
        pass


class WebhookOutcome(models.TextChoices):
    APPLIED = "applied"
    REFUSED = "refused"
    FLAGGED = "flagged"


class ProviderCallback(models.Model):
    """Every signed provider callback, stored before it is acknowledged."""

    provider = models.CharField(max_length=32)
    provider_transaction_id = models.CharField(max_length=200)
    event = models.CharField(max_length=64)
    reference = models.CharField(max_length=64)
    payload = models.JSONField()
    outcome = models.CharField(max_length=16, choices=WebhookOutcome.choices)
    outcome_code = models.CharField(max_length=64, blank=True, default="")
    outcome_detail = models.TextField(blank=True, default="")
    needs_review = models.BooleanField(default=False, db_index=True)
    # Refused for a reason that may pass (the target is not in the state yet): recorded, but
    # the provider's retry is judged again instead of answered as a duplicate.
    retryable = models.BooleanField(default=False)
    response_body = models.JSONField(default=dict)
    received_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        constraints = [
            # One final outcome per provider transaction; retryable refusals may precede it.
            models.UniqueConstraint(
                fields=["provider", "provider_transaction_id"], condition=Q(retryable=False),
                name="callback_unique_provider_txn"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_transaction_id} {self.event} ({self.outcome})"


class RefundStatus(models.TextChoices):
    REQUESTED = "requested"
    APPROVED = "approved"
    SENT = "sent"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"


OPEN_REFUND_STATUSES = (RefundStatus.REQUESTED, RefundStatus.APPROVED, RefundStatus.SENT)
# The statuses that count against what is left of the deposit (all but failed and rejected).
COUNTED_REFUND_STATUSES = (*OPEN_REFUND_STATUSES, RefundStatus.COMPLETED)


class Refund(models.Model):
    """An operator-initiated return of (part of) a deposit to its original method.

    The amount leaves the player's cash for reserved when requested (like a withdrawal) and
    goes to the provider when the provider confirms; a failure or rejection returns it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="refunds")
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    provider = models.CharField(max_length=32, choices=PaymentProvider.choices)
    provider_transaction_id = models.CharField(max_length=200, blank=True, default="")
    status = FSMField(default=RefundStatus.REQUESTED, choices=RefundStatus.choices, protected=True)
    reason = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    failure_reason = models.TextField(blank=True, default="")
    # The fee quoted when the operation was opened (wallet.fees), posted when it completes.
    fee_amount = models.BigIntegerField(default=0)
    fee_bearer = models.CharField(max_length=16, blank=True, default="")
    fee_schedule = models.ForeignKey("FeeSchedule", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(bases=[FSMHistoryBase])

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            # Four eyes: nobody approves a refund they requested.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("requested_by")),
                name="refund_approver_not_requester",
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.pk} {format_amount(self.amount, self.currency)} {self.currency} ({self.status})"

    @transition(field=status, source=RefundStatus.REQUESTED, target=RefundStatus.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=status, source=RefundStatus.REQUESTED, target=RefundStatus.REJECTED)
    def reject(self, *, reason: str) -> None:
        self.failure_reason = reason

    @transition(field=status, source=RefundStatus.APPROVED, target=RefundStatus.SENT)
    def mark_sent(self) -> None:
        pass

    @transition(field=status, source=RefundStatus.SENT, target=RefundStatus.COMPLETED)
    def complete(self, *, provider_transaction_id: str) -> None:
        self.provider_transaction_id = provider_transaction_id

    @transition(field=status, source=RefundStatus.SENT, target=RefundStatus.FAILED)
    def fail(self, *, provider_transaction_id: str, reason: str) -> None:
        self.provider_transaction_id = provider_transaction_id
        self.failure_reason = reason


class FeeOperation(models.TextChoices):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    REFUND = "refund"


class FeeBearer(models.TextChoices):
    PLAYER = "player"
    OPERATOR = "operator"


class FeeSchedule(models.Model):
    """What a provider charges for one operation in one currency (wallet.fees.fee_compute):
    percent_bp/10000 of the amount, rounded down, plus `fixed`, then raised to `minimum`
    and capped at `maximum`; borne by the player (taken from what they send or receive) or
    by the operator (from the house). At most one active schedule per provider, operation
    and currency; an operation keeps the fee quoted when it was opened."""

    provider = models.CharField(max_length=32, choices=PaymentProvider.choices)
    operation = models.CharField(max_length=16, choices=FeeOperation.choices)
    currency = models.CharField(max_length=8)
    percent_bp = models.PositiveIntegerField(default=0, help_text="basis points: 150 = 1.50%")
    fixed = models.BigIntegerField(default=0, help_text="minor units of the currency")
    minimum = models.BigIntegerField(default=0, help_text="minor units")
    maximum = models.BigIntegerField(null=True, blank=True, help_text="minor units; empty: none")
    bearer = models.CharField(max_length=16, choices=FeeBearer.choices, default=FeeBearer.PLAYER)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "operation", "currency"],
                                    condition=Q(active=True), name="fee_schedule_one_active"),
            models.CheckConstraint(condition=Q(percent_bp__lte=10_000), name="fee_percent_at_most_100"),
            models.CheckConstraint(condition=Q(fixed__gte=0) & Q(minimum__gte=0),
                                   name="fee_fixed_minimum_non_negative"),
            models.CheckConstraint(condition=Q(maximum__isnull=True) | Q(maximum__gte=models.F("minimum")),
                                   name="fee_maximum_at_least_minimum"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.operation} {self.currency} ({self.bearer} bears)"


class FeeCharge(models.Model):
    """One fee posted to the fees account, written in the ledger transaction of its operation
    (append-only). Reconciliation matches these against the fees account's entries."""

    ledger_transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, related_name="+")
    schedule = models.ForeignKey(FeeSchedule, on_delete=models.PROTECT, related_name="charges")
    operation = models.CharField(max_length=16, choices=FeeOperation.choices)
    reference = models.CharField(max_length=64)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=8)
    amount = models.BigIntegerField()
    bearer = models.CharField(max_length=16, choices=FeeBearer.choices)
    created_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="fee_charge_amount_positive"),
            models.UniqueConstraint(fields=["operation", "reference"], name="fee_charge_once"),
        ]

    def __str__(self) -> str:
        return f"fee {format_amount(self.amount, self.currency)} {self.currency} on {self.reference}"
