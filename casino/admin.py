"""Casino rounds and provider transactions in the admin: read-only, for support and
compliance. A round page lists every provider transaction of the round; the player page
(backoffice) can link to `casino_round_changelist?player__id__exact=<id>`."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ReadOnlyAdminMixin
from common.money import format_amount

from .models import CasinoRound, GameLaunch, ProviderTransaction


class ProviderTransactionInline(admin.TabularInline):
    model = ProviderTransaction
    extra = 0
    can_delete = False
    fields = ["transaction_id", "kind", "win_kind", "status", "amount_display",
              "reference_transaction_id", "outcome_code", "balance_display",
              "ledger_transaction", "created_at", "rolled_back_at"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="amount")
    def amount_display(self, obj):
        return format_amount(obj.amount, obj.currency)

    @admin.display(description="balance after")
    def balance_display(self, obj):
        return "" if obj.balance_after is None else format_amount(obj.balance_after, obj.currency)


@admin.register(CasinoRound)
class CasinoRoundAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["provider_round_id", "provider", "player", "game", "status", "bets",
                    "wins", "opened_at", "closed_at"]
    list_filter = ["provider", "status"]
    search_fields = ["provider_round_id", "player__username"]
    list_select_related = ["player"]
    readonly_fields = ["provider", "provider_round_id", "player", "currency", "game", "status",
                       "bets", "wins", "opened_at", "closed_at"]
    fields = readonly_fields
    inlines = [ProviderTransactionInline]
    date_hierarchy = "opened_at"

    @admin.display(description="bets (net)")
    def bets(self, obj):
        return format_amount(obj.bet_total, obj.currency)

    @admin.display(description="wins")
    def wins(self, obj):
        return format_amount(obj.win_total, obj.currency)


@admin.register(ProviderTransaction)
class ProviderTransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["transaction_id", "provider", "kind", "status", "player", "amount_display",
                    "outcome_code", "round", "created_at"]
    list_filter = ["provider", "kind", "status", "outcome_code"]
    search_fields = ["transaction_id", "reference_transaction_id", "player__username"]
    list_select_related = ["player", "round"]
    raw_id_fields = ["player", "round", "ledger_transaction"]

    @admin.display(description="amount")
    def amount_display(self, obj):
        return format_amount(obj.amount, obj.currency)


@admin.register(GameLaunch)
class GameLaunchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "provider", "game", "currency", "player", "created_at", "expires_at"]
    list_filter = ["provider"]
    search_fields = ["player__username", "game"]
    exclude = ["token_hash"]
