"""Bonuses in the admin: campaigns (staff-defined terms, with a "grant" button for a manual
grant with a reason), player bonuses read-only with a "forfeit" button, their stakes."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from rest_framework import serializers
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ReadOnlyAdminMixin, ReasonForm, TransitionButton, TransitionButtonsMixin
from common.history import save_with_history
from common.money import format_amount, parse_amount

from . import services
from .models import OPEN_BONUS_STATUSES, BonusStake, Campaign, PlayerBonus
from .permissions import FORFEIT_PERMISSION, GRANT_PERMISSION


class GrantForm(ReasonForm):
    player = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_staff=False).order_by("username"))
    amount = forms.CharField(required=False,
                             help_text="Such as 10.00; empty: the campaign's fixed amount.")

    def clean(self):
        data = super().clean()
        raw = (data.get("amount") or "").strip()
        data["amount_minor"] = None
        if raw:
            try:
                data["amount_minor"] = parse_amount(raw, self.obj.currency)
            except serializers.ValidationError:
                raise ValidationError("Give an amount such as 10.00.") from None
        return data


def _grant(obj, actor, reason, now, data):
    return services.bonus_grant_manual(player_id=data["player"].pk, campaign_id=obj.pk,
                                       amount=data["amount_minor"], reason=reason, actor=actor,
                                       now=now)


@admin.register(Campaign)
class CampaignAdmin(TransitionButtonsMixin, SimpleHistoryAdmin):
    list_display = ["name", "trigger", "currency", "terms", "wagering_multiple", "max_bet",
                    "valid_days", "active", "created_at"]
    list_filter = ["trigger", "currency", "active"]
    search_fields = ["name"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    transition_buttons = [
        TransitionButton("grant", "Grant to a player", GRANT_PERMISSION,
                         allowed=lambda c: c.active, run=_grant, form_class=GrantForm,
                         success_message="Bonus granted."),
    ]

    @admin.display(description="bonus")
    def terms(self, c: Campaign) -> str:
        if c.fixed_amount is not None:
            return f"{format_amount(c.fixed_amount, c.currency)} {c.currency}"
        cap = f", cap {format_amount(c.cap, c.currency)}" if c.cap is not None else ""
        return f"{c.percent}%{cap}"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        save_with_history(obj, user=request.user, reason="changed in admin" if change else "created")

    def has_delete_permission(self, request, obj=None):
        return False


class BonusStakeInline(admin.TabularInline):
    model = BonusStake
    extra = 0
    can_delete = False
    fields = ["reference", "product", "game", "amount", "cash_part", "bonus_part", "status",
              "returned_cash", "returned_bonus", "returned_forfeited", "contribution", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


def _forfeit(obj, actor, reason, now):
    return services.bonus_forfeit(bonus_id=obj.pk, actor=actor, reason=reason, now=now)


@admin.register(PlayerBonus)
class PlayerBonusAdmin(TransitionButtonsMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["id", "player", "campaign", "currency", "status", "amount_display",
                    "progress", "expires_at", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["=player__id", "player__username", "grant_key"]
    inlines = [BonusStakeInline]
    transition_buttons = [
        TransitionButton("forfeit", "Forfeit", FORFEIT_PERMISSION,
                         allowed=lambda b: b.status in OPEN_BONUS_STATUSES, run=_forfeit,
                         danger=True),
    ]

    @admin.display(description="amount")
    def amount_display(self, b: PlayerBonus) -> str:
        return f"{format_amount(b.amount, b.currency)} {b.currency}"

    @admin.display(description="wagering")
    def progress(self, b: PlayerBonus) -> str:
        return (f"{format_amount(b.wagered, b.currency)} / "
                f"{format_amount(b.wagering_required, b.currency)}")
