"""Game sessions in the admin: read-only rows, plus a force-close (support agents) that asks
for a reason and calls game_session_close, which voids the open rounds and returns stakes."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django_fsm import can_proceed
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ReadOnlyAdminMixin, TransitionButton, TransitionButtonsMixin
from common.errors import DomainError
from common.money import format_amount

from .models import GameRound, GameSession
from .services import game_session_close

FORCE_CLOSE_PERMISSION = "backoffice.force_close_session"


def _force_close(session, actor, reason, now):
    return game_session_close(session_id=session.pk, actor=actor, reason=reason, now=now)


class ForceCloseForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000,
        help_text="Recorded in the history with your name and the time.",
    )


class GameRoundInline(admin.TabularInline):
    model = GameRound
    extra = 0
    can_delete = False
    fields = readonly_fields = ("client_round_id", "status", "stake_display", "card", "choice",
                                "next_card", "outcome", "payout_display", "opened_at",
                                "resolved_at")
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="stake")
    def stake_display(self, obj):
        return format_amount(obj.stake, obj.currency)

    @admin.display(description="payout")
    def payout_display(self, obj):
        return format_amount(obj.payout, obj.currency)


@admin.register(GameSession)
class GameSessionAdmin(TransitionButtonsMixin, SimpleHistoryAdmin):
    list_display = ["id", "player", "game", "currency", "status", "close_reason", "started_at",
                    "last_heartbeat_at", "closed_at"]
    list_filter = ["status", "close_reason", "game", "currency"]
    search_fields = ["=id", "player__username", "=player__id"]
    list_select_related = ["player"]
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in GameSession._meta.fields]
    inlines = [GameRoundInline]
    actions = ["force_close_selected"]
    transition_buttons = [
        TransitionButton(
            "force_close", "Force-close (void open rounds, return stakes)", FORCE_CLOSE_PERMISSION,
            allowed=lambda s: can_proceed(s.force_close), run=_force_close, danger=True,
        ),
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_force_close_permission(self, request):
        return request.user.has_perm(FORCE_CLOSE_PERMISSION)

    @admin.action(description="Force-close selected live sessions", permissions=["force_close"])
    def force_close_selected(self, request, queryset):
        if not self.has_force_close_permission(request):
            raise PermissionDenied
        form = ForceCloseForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            closed, refused = 0, []
            for session in queryset:
                try:
                    game_session_close(session_id=session.pk, actor=request.user,
                                       reason=form.cleaned_data["reason"], now=timezone.now())
                    closed += 1
                except DomainError as exc:
                    refused.append(f"{session.pk}: {exc.detail} [{exc.code}]")
            messages.success(request, f"Force-closed {closed} session(s).")
            for line in refused:
                messages.error(request, line)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Force-close game sessions",
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/game_sessions/force_close.html", context)


@admin.register(GameRound)
class GameRoundAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["id", "client_round_id", "session", "player", "status", "outcome", "card",
                    "next_card", "opened_at", "resolved_at"]
    list_filter = ["status", "outcome", "currency"]
    search_fields = ["=id", "=client_round_id", "=session__id", "player__username"]
    list_select_related = ["player", "session"]
    readonly_fields = [f.name for f in GameRound._meta.fields]
