"""Admin of the sportsbook. Price and status changes go through the services (locks, history,
settlement queue). Suspend, resume, settle and resettle are buttons on the market page (and
suspend / resume / void also bulk actions on the list), offered only to staff holding
`backoffice.trade_markets` (traders, administrators) and only while the transition is
allowed; each asks for a reason, which the service writes into the market's history."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django_fsm import can_proceed
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ReasonForm, TransitionButton, TransitionButtonsMixin
from common.errors import DomainError

from . import services
from .models import Bet, BetLeg, Event, Market, MarketSettlement, Selection

TRADE_PERMISSION = "backoffice.trade_markets"


class TraderActionsMixin:
    def has_trade_permission(self, request) -> bool:
        return request.user.has_perm(TRADE_PERMISSION)


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


class BulkReasonForm(ReasonForm):
    """The reason page of a bulk action: posts the action and the selection back to the
    changelist, which runs the action again, now with a reason."""

    # Only echoed back to the changelist (which resolves the action and the queryset);
    # the reason is the one field that is validated here.
    action = forms.CharField(widget=forms.HiddenInput, required=False)
    select_across = forms.CharField(widget=forms.HiddenInput, required=False, initial="0")
    field_order = ["reason"]

    def __init__(self, *args, selected: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[ACTION_CHECKBOX_NAME] = forms.MultipleChoiceField(
            choices=[(pk, pk) for pk in selected], initial=selected, required=False,
            widget=forms.MultipleHiddenInput,
        )


def _with_reason(modeladmin, request, queryset, *, label: str, run):
    """Ask for a reason first (an intermediate page like Django's delete confirmation),
    then call `run(reason)`."""
    selected = [str(pk) for pk in queryset.values_list("pk", flat=True)]
    initial = {"action": request.POST.get("action", ""), "select_across": "0"}
    if "reason" in request.POST:
        form = BulkReasonForm(request.POST, selected=selected, initial=initial)
        if form.is_valid():
            run(form.cleaned_data["reason"])
            return None
    else:
        form = BulkReasonForm(selected=selected, initial=initial)
    opts = modeladmin.model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist",
                         current_app=modeladmin.admin_site.name)
    name = opts.verbose_name if len(selected) == 1 else opts.verbose_name_plural
    return TemplateResponse(request, "admin/backoffice/transition_reason.html", {
        **modeladmin.admin_site.each_context(request),
        "title": f"{label}: {len(selected)} {name}",
        "opts": opts,
        "subject": f"{len(selected)} {name}",
        "button": SimpleNamespace(label=label),
        "form": form,
        "change_url": changelist,
    })


class SettleForm(ReasonForm):
    """The result of a market: its winning selections, or void (every stake returned)."""

    winners = forms.ModelMultipleChoiceField(
        queryset=Selection.objects.none(), required=False, label="Winning selections",
        widget=forms.CheckboxSelectMultiple,
    )
    void = forms.BooleanField(required=False, label="Void the market (return every stake)")
    field_order = ["winners", "void", "reason"]

    def __init__(self, *args, obj: Market, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        self.fields["winners"].queryset = obj.selections.order_by("id")

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("winners")) == bool(cleaned.get("void")):
            raise forms.ValidationError("Tick the winning selections or void, not both or neither.")
        return cleaned


SETTLE_QUEUED = "Done: the settlement of the market's bets is queued."


def _suspend(market, actor, reason, now):
    return services.market_suspend(market_id=market.pk, actor=actor, reason=reason, now=now)


def _resume(market, actor, reason, now):
    return services.market_resume(market_id=market.pk, actor=actor, reason=reason, now=now)


def _settle(market, actor, reason, now, *, data):
    return services.market_settle(
        market_id=market.pk, void=data["void"],
        winning_selection_ids=[] if data["void"] else [s.pk for s in data["winners"]],
        actor=actor, reason=reason, now=now,
    )



class SelectionInline(admin.TabularInline):
    model = Selection
    fields = ["name", "odds", "odds_version"]
    readonly_fields = ["odds", "odds_version"]
    extra = 0
    can_delete = False


class MarketInline(admin.TabularInline):
    model = Market
    fields = ["name", "status", "in_play", "min_stake", "max_stake", "max_payout"]
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
class MarketAdmin(TraderActionsMixin, TransitionButtonsMixin, SimpleHistoryAdmin):
    list_display = ["id", "event", "name", "status", "in_play", "settlement_version", "resulted_at"]
    list_filter = ["status", "in_play"]
    search_fields = ["name", "event__name", "=id"]
    readonly_fields = ["status", "winning_selection_ids", "settlement_version", "resulted_at"]
    inlines = [SelectionInline]
    actions = ["suspend_markets", "resume_markets", "void_markets"]
    transition_buttons = [
        TransitionButton("suspend", "Suspend", TRADE_PERMISSION,
                         allowed=lambda m: can_proceed(m.suspend), run=_suspend),
        TransitionButton("resume", "Resume", TRADE_PERMISSION,
                         allowed=lambda m: can_proceed(m.resume), run=_resume),
        TransitionButton("settle", "Settle or void", TRADE_PERMISSION,
                         allowed=lambda m: can_proceed(m.settle), run=_settle,
                         form_class=SettleForm, success_message=SETTLE_QUEUED),
        # A different result for a resulted market: reverses and re-applies its bets.
        TransitionButton("resettle", "Resettle", TRADE_PERMISSION,
                         allowed=lambda m: can_proceed(m.resettle), run=_settle,
                         form_class=SettleForm, danger=True, success_message=SETTLE_QUEUED),
    ]

    @admin.action(description="Suspend selected markets", permissions=["trade"])
    def suspend_markets(self, request, queryset):
        def run(reason):
            _run(self, request, "Suspended", [
                (f"market {m.pk}", lambda m=m: _suspend(m, request.user, reason, timezone.now()))
                for m in queryset
            ])
        return _with_reason(self, request, queryset, label="Suspend", run=run)

    @admin.action(description="Resume selected markets", permissions=["trade"])
    def resume_markets(self, request, queryset):
        def run(reason):
            _run(self, request, "Resumed", [
                (f"market {m.pk}", lambda m=m: _resume(m, request.user, reason, timezone.now()))
                for m in queryset
            ])
        return _with_reason(self, request, queryset, label="Resume", run=run)

    @admin.action(description="Void selected markets (return all stakes)", permissions=["trade"])
    def void_markets(self, request, queryset):
        def run(reason):
            _run(self, request, "Voided", [
                (f"market {m.pk}", lambda m=m: services.market_settle(
                    market_id=m.pk, void=True, actor=request.user, reason=reason,
                    now=timezone.now()))
                for m in queryset
            ])
        return _with_reason(self, request, queryset, label="Void", run=run)


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
        def run(reason):
            winners: dict[int, list[int]] = defaultdict(list)
            for selection in queryset:
                winners[selection.market_id].append(selection.pk)
            _run(self, request, "Settlement queued", [
                (f"market {market_id}", lambda market_id=market_id, ids=ids:
                    services.market_settle(market_id=market_id, winning_selection_ids=ids,
                                           actor=request.user, reason=reason, now=timezone.now()))
                for market_id, ids in winners.items()
            ])
        return _with_reason(self, request, queryset, label="Settle", run=run)


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
