"""Wallet in the admin. The ledger, its entries, idempotency records, the outbox and
provider callbacks are evidence: read-only for everyone. Withdrawals change state only
through the approve / reject buttons, which call wallet.services with the staff member and
their reason."""

from typing import Any

from django import forms
from django.contrib import admin
from django_fsm import can_proceed
from rest_framework import serializers
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ReadOnlyAdminMixin, ReasonForm, TransitionButton, TransitionButtonsMixin
from common.money import format_amount, parse_amount

from .models import (
    Account,
    Deposit,
    DepositStatus,
    Entry,
    FeeCharge,
    FeeSchedule,
    ProviderCallback,
    Refund,
    RefundStatus,
    Transaction,
    Withdrawal,
    WithdrawalStatus,
)
from .refunds import refund_approve, refund_reject, refund_request, refunded_total
from .sandbox import sandbox_completable, sandbox_complete
from .services import withdrawal_approve, withdrawal_reject


def _money(obj) -> str:
    return f"{format_amount(obj.amount, obj.currency)} {obj.currency}"


class ReadOnlyModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Account)
class AccountAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "owner", "kind", "currency", "balance_display", "created_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["=owner__id", "owner__username", "owner__email"]
    list_select_related = ["owner"]
    show_full_result_count = False

    @admin.display(description="balance")
    def balance_display(self, obj):
        return format_amount(obj.balance, obj.currency)


class EntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Entry
    fields = readonly_fields = ("id", "account", "currency", "amount", "balance_after", "hash")
    extra = 0
    can_delete = False


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "kind", "reference", "created_by", "reason", "created_at"]
    list_filter = ["kind"]
    search_fields = ["=id", "reference", "external_reference", "dedupe_key"]
    date_hierarchy = "created_at"
    inlines = [EntryInline]
    show_full_result_count = False


@admin.register(Entry)
class EntryAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "transaction", "account", "amount_display", "balance_after", "created_at"]
    list_filter = ["currency"]
    search_fields = ["=transaction__id", "=account__id", "=account__owner__id"]
    list_select_related = ["transaction", "account"]
    show_full_result_count = False

    @admin.display(description="amount")
    def amount_display(self, obj):
        return _money(obj)


@admin.register(ProviderCallback)
class ProviderCallbackAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "provider", "provider_transaction_id", "event", "reference", "outcome",
                    "needs_review", "received_at"]
    list_filter = ["provider", "event", "outcome", "needs_review"]
    search_fields = ["provider_transaction_id", "reference"]


class RefundForm(ReasonForm):
    """A refund of (part of) the deposit: the amount in the deposit's currency."""

    amount = forms.CharField(max_length=32, help_text="In the deposit's currency, e.g. 12.50.")
    field_order = ["amount", "reason"]

    def clean_amount(self):
        try:
            return parse_amount(self.cleaned_data["amount"].strip(), self.obj.currency)
        except serializers.ValidationError as exc:
            detail: Any = exc.detail  # {"amount": [message]} from parse_amount
            raise forms.ValidationError(detail["amount"][0]) from None


def _request_refund(obj, actor, reason, now, data):
    return refund_request(deposit_id=obj.pk, amount=data["amount"], reason=reason, actor=actor,
                          now=now)


def _sandbox(succeed: bool):
    def run(obj, actor, reason, now):
        return sandbox_complete(reference=str(obj.pk), succeed=succeed)
    return run


def sandbox_buttons(permission: str) -> list[TransitionButton]:
    """Dev/test only (common.devtools): play the sandbox provider's callback from the page."""
    return [
        TransitionButton("sandbox-succeed", "Sandbox: provider confirms", permission,
                         allowed=sandbox_completable, run=_sandbox(True), reason_required=False,
                         success_message="The sandbox provider confirmed it."),
        TransitionButton("sandbox-fail", "Sandbox: provider fails", permission,
                         allowed=sandbox_completable, run=_sandbox(False), reason_required=False,
                         danger=True, success_message="The sandbox provider reported a failure."),
    ]


@admin.register(Deposit)
class DepositAdmin(TransitionButtonsMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["id", "player", "amount_display", "provider", "provider_transaction_id",
                    "status", "refunded_display", "created_at"]
    transition_buttons = [
        TransitionButton(
            "refund", "Refund to the original method", "backoffice.decide_withdrawal",
            allowed=lambda d: d.status == DepositStatus.SUCCEEDED, run=_request_refund,
            form_class=RefundForm, danger=True,
            success_message="Refund requested (below the threshold it is approved and sent at once).",
        ),
        *sandbox_buttons("wallet.view_deposit"),
    ]

    @admin.display(description="refunded")
    def refunded_display(self, obj):
        total = refunded_total(obj.pk)
        return format_amount(total, obj.currency) if total else "-"
    list_filter = ["status", "provider", "currency"]
    search_fields = ["=id", "provider_transaction_id", "player__username", "player__email"]
    list_select_related = ["player"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="amount")
    def amount_display(self, obj):
        return _money(obj)


def _approve(obj, actor, reason, now):
    return withdrawal_approve(withdrawal_id=obj.pk, actor=actor, reason=reason, now=now)


def _reject(obj, actor, reason, now):
    return withdrawal_reject(withdrawal_id=obj.pk, actor=actor, reason=reason, now=now)


@admin.register(Withdrawal)
class WithdrawalAdmin(TransitionButtonsMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["id", "player", "amount_display", "status", "decided_by", "second_approver",
                    "created_at"]
    list_filter = ["status", "currency", "provider"]
    search_fields = ["=id", "provider_transaction_id", "player__username", "player__email"]
    list_select_related = ["player", "decided_by", "second_approver"]
    transition_buttons = [
        TransitionButton(
            "approve", "Approve withdrawal", "backoffice.decide_withdrawal",
            allowed=lambda w: can_proceed(w.approve), run=_approve,
        ),
        TransitionButton(
            "reject", "Reject withdrawal", "backoffice.decide_withdrawal",
            allowed=lambda w: w.status in (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED),
            run=_reject, danger=True,
        ),
        *sandbox_buttons("backoffice.decide_withdrawal"),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="amount")
    def amount_display(self, obj):
        return _money(obj)


def _approve_refund(obj, actor, reason, now):
    return refund_approve(refund_id=obj.pk, actor=actor, reason=reason, now=now)


def _reject_refund(obj, actor, reason, now):
    return refund_reject(refund_id=obj.pk, actor=actor, reason=reason, now=now)


@admin.register(Refund)
class RefundAdmin(TransitionButtonsMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["id", "player", "deposit", "amount_display", "status", "requested_by",
                    "approved_by", "created_at"]
    list_filter = ["status", "currency", "provider"]
    search_fields = ["=id", "=deposit__id", "provider_transaction_id", "player__username",
                     "player__email"]
    list_select_related = ["player", "deposit", "requested_by", "approved_by"]
    transition_buttons = [
        TransitionButton(
            "approve", "Approve refund (second approval)", "backoffice.decide_withdrawal",
            allowed=lambda r: r.status == RefundStatus.REQUESTED, run=_approve_refund,
        ),
        TransitionButton(
            "reject", "Reject refund", "backoffice.decide_withdrawal",
            allowed=lambda r: r.status == RefundStatus.REQUESTED, run=_reject_refund, danger=True,
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="amount")
    def amount_display(self, obj):
        return _money(obj)


@admin.register(FeeSchedule)
class FeeScheduleAdmin(SimpleHistoryAdmin):
    """Editable by those holding wallet.change_feeschedule (payments, administrators); every
    change is in the history. An operation keeps the fee quoted when it was opened, so an
    edit applies to new deposits, withdrawals and refunds only. Deactivate, never delete."""

    list_display = ["id", "provider", "operation", "currency", "percent_bp", "fixed_display",
                    "minimum_display", "maximum_display", "bearer", "active", "updated_at"]
    list_filter = ["provider", "operation", "currency", "bearer", "active"]
    fields = ["provider", "operation", "currency", "percent_bp", "fixed", "minimum", "maximum",
              "bearer", "active"]

    def has_delete_permission(self, request, obj=None):
        return False

    def _minor(self, obj, value):
        return "-" if value is None else format_amount(value, obj.currency)

    @admin.display(description="fixed")
    def fixed_display(self, obj):
        return self._minor(obj, obj.fixed)

    @admin.display(description="minimum")
    def minimum_display(self, obj):
        return self._minor(obj, obj.minimum)

    @admin.display(description="maximum")
    def maximum_display(self, obj):
        return self._minor(obj, obj.maximum)


@admin.register(FeeCharge)
class FeeChargeAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "operation", "reference", "player", "amount_display", "bearer",
                    "schedule", "ledger_transaction", "created_at"]
    list_filter = ["operation", "bearer", "currency"]
    search_fields = ["reference", "=player__id", "player__username"]
    list_select_related = ["player", "schedule", "ledger_transaction"]

    @admin.display(description="fee")
    def amount_display(self, obj):
        return _money(obj)
