"""Admin of the sportsbook. Price and status changes go through the services (locks, history,
settlement queue); the actions are offered only to traders."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import admin, messages
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from common.errors import DomainError
from users.roles import TRADER, user_has_role

from . import services
from .models import Bet, BetLeg, Event, Market, MarketSettlement, Selection

ADMIN_REASON = "admin action"


class TraderActionsMixin:
    def has_trade_permission(self, request) -> bool:
        return user_has_role(request.user, TRADER)


def _run(modeladmin, request, label: str, calls) -> None:
    done = 0
    for describe, call in calls:
        try:
            call()
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{describe}: {exc.detail} ({exc.code})", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{label}: {done} done.", messages.SUCCESS)


class SelectionInline(admin.TabularInline):
    model = Selection
    fields = ["name", "odds", "odds_version"]
    readonly_fields = ["odds", "odds_version"]
    extra = 0
    can_delete = False


class MarketInline(admin.TabularInline):
    model = Market
    fields = ["name", "status", "min_stake", "max_stake", "max_payout"]
    readonly_fields = ["status"]
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "starts_at", "created_at"]
    search_fields = ["name", "=id"]
    date_hierarchy = "starts_at"
    inlines = [MarketInline]


@admin.register(Market)
class MarketAdmin(TraderActionsMixin, SimpleHistoryAdmin):
    list_display = ["id", "event", "name", "status", "settlement_version", "resulted_at"]
    list_filter = ["status"]
    search_fields = ["name", "event__name", "=id"]
    readonly_fields = ["status", "winning_selection_ids", "settlement_version", "resulted_at"]
    inlines = [SelectionInline]
    actions = ["suspend_markets", "resume_markets", "void_markets"]

    @admin.action(description="Suspend selected markets", permissions=["trade"])
    def suspend_markets(self, request, queryset):
        _run(self, request, "Suspended", [
            (f"market {m.pk}", lambda m=m: services.market_suspend(
                market_id=m.pk, actor=request.user, reason=ADMIN_REASON, now=timezone.now()))
            for m in queryset
        ])

    @admin.action(description="Resume selected markets", permissions=["trade"])
    def resume_markets(self, request, queryset):
        _run(self, request, "Resumed", [
            (f"market {m.pk}", lambda m=m: services.market_resume(
                market_id=m.pk, actor=request.user, reason=ADMIN_REASON, now=timezone.now()))
            for m in queryset
        ])

    @admin.action(description="Void selected markets (return all stakes)", permissions=["trade"])
    def void_markets(self, request, queryset):
        _run(self, request, "Voided", [
            (f"market {m.pk}", lambda m=m: services.market_settle(
                market_id=m.pk, void=True, actor=request.user, reason=ADMIN_REASON,
                now=timezone.now()))
            for m in queryset
        ])


@admin.register(Selection)
class SelectionAdmin(TraderActionsMixin, SimpleHistoryAdmin):
    list_display = ["id", "market", "name", "odds", "odds_version", "updated_at"]
    search_fields = ["name", "market__name", "=id"]
    readonly_fields = ["market", "odds", "odds_version"]
    history_list_display = ["odds", "odds_version"]
    actions = ["settle_as_winners"]

    @admin.action(description="Settle their markets with the selected selections as winners",
                  permissions=["trade"])
    def settle_as_winners(self, request, queryset):
        winners: dict[int, list[int]] = defaultdict(list)
        for selection in queryset:
            winners[selection.market_id].append(selection.pk)
        _run(self, request, "Settlement queued", [
            (f"market {market_id}", lambda market_id=market_id, ids=ids: services.market_settle(
                market_id=market_id, winning_selection_ids=ids, actor=request.user,
                reason=ADMIN_REASON, now=timezone.now()))
            for market_id, ids in winners.items()
        ])


class BetLegInline(admin.TabularInline):
    model = BetLeg
    fields = ["selection", "requested_odds", "accepted_odds", "odds_version", "result",
              "settled_version"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Bet)
class BetAdmin(SimpleHistoryAdmin):
    list_display = ["id", "player", "kind", "currency", "stake", "accepted_odds", "status",
                    "payout", "created_at"]
    list_filter = ["status", "kind", "currency"]
    search_fields = ["=id", "player__username"]
    inlines = [BetLegInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MarketSettlement)
class MarketSettlementAdmin(admin.ModelAdmin):
    list_display = ["market", "version", "void", "winning_selection_ids", "created_by", "reason",
                    "created_at"]
    readonly_fields = list_display

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
