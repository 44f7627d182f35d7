"""Wallet in the admin. The ledger, its entries, idempotency records, the outbox and
provider callbacks are evidence: read-only for everyone. Withdrawals change state only
through the approve / reject buttons, which call wallet.services with the staff member and
their reason."""

from django.contrib import admin
from django_fsm import can_proceed
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ReadOnlyAdminMixin, TransitionButton, TransitionButtonsMixin
from common.money import format_amount

from .models import (
    Account,
    Deposit,
    Entry,
    ProviderCallback,
    Transaction,
    Withdrawal,
    WithdrawalStatus,
)
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
    fields = ["id", "account", "currency", "amount", "balance_after", "hash"]
    readonly_fields = fields
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


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["id", "player", "amount_display", "provider", "provider_transaction_id",
                    "status", "created_at"]
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
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="amount")
    def amount_display(self, obj):
        return _money(obj)
