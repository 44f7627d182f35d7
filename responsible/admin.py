"""Responsible gambling in the admin: limits, exclusions, reality checks and profiles, read
only; compliance officers impose an operator limit or an exclusion through the "add" forms,
which call the same services as the backoffice API (reason required, recorded in the
history with the officer, the strictest limit applies, a live session is closed)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from rest_framework import serializers
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ReadOnlyAdminMixin
from common.errors import DomainError
from common.money import CURRENCIES, parse_amount
from common.numbers import ascii_int

from . import services
from .models import (
    Exclusion,
    ExclusionKind,
    Limit,
    LimitKind,
    LimitPeriod,
    Profile,
    RealityCheck,
)
from .permissions import can_impose


def _players():
    return get_user_model().objects.filter(is_staff=False).order_by("username")


class ImposeLimitForm(forms.Form):
    player = forms.ModelChoiceField(queryset=_players())
    kind = forms.ChoiceField(choices=LimitKind.choices)
    period = forms.ChoiceField(choices=LimitPeriod.choices)
    currency = forms.ChoiceField(choices=[("", "— (session time)")]
                                 + [(c, c) for c in CURRENCIES], required=False)
    value = forms.CharField(help_text="An amount such as 50.00, or minutes for session time.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)

    def clean(self):
        data = super().clean()
        kind, raw = data.get("kind"), (data.get("value") or "").strip()
        try:
            if kind == LimitKind.SESSION_TIME:
                data["currency"] = ""
                minutes = ascii_int(raw)
                if minutes is None or not 0 < minutes <= 100_000:
                    raise ValueError(raw)
                data["amount"] = minutes * 60
            elif not data.get("currency"):
                raise ValidationError("A money limit needs a currency.")
            else:
                data["amount"] = parse_amount(raw, data["currency"], allow_zero=True)
        except (ValueError, serializers.ValidationError):
            raise ValidationError("Give an amount such as 50.00, or whole minutes.") from None
        return data


class ImposeExclusionForm(forms.Form):
    player = forms.ModelChoiceField(queryset=_players())
    kind = forms.ChoiceField(choices=ExclusionKind.choices)
    days = forms.IntegerField(required=False, help_text="Time-out: 1 to 42 days.")
    months = forms.IntegerField(required=False, help_text="Self-exclusion: 6 to 60 months.")
    indefinite = forms.BooleanField(required=False)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class _ImposeAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Read-only rows, plus an "impose" page for compliance that calls one service (outside
    the admin's own transaction: the service owns its durable transaction)."""

    impose_form: type[forms.Form]
    impose_title: str
    change_list_template = "admin/responsible/change_list.html"

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [path("impose/", self.admin_site.admin_view(self.impose_view),
                     name="{}_{}_impose".format(*info)), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_impose": can_impose(request.user),
                         "impose_title": self.impose_title}
        return super().changelist_view(request, extra_context)

    def impose_view(self, request):
        if not can_impose(request.user):
            raise PermissionDenied
        form = self.impose_form(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                self.impose(request.user, form.cleaned_data)
            except DomainError as exc:
                messages.error(request, f"Refused: {exc.detail} [{exc.code}]")
            else:
                messages.success(request, f"{self.impose_title}: done.")
                info = self.model._meta.app_label, self.model._meta.model_name
                return HttpResponseRedirect(reverse("admin:{}_{}_changelist".format(*info)))
        context = {**self.admin_site.each_context(request), "title": self.impose_title,
                   "form": form, "opts": self.model._meta}
        return TemplateResponse(request, "admin/responsible/impose.html", context)


@admin.register(Limit)
class LimitAdmin(_ImposeAdmin):
    impose_form = ImposeLimitForm
    impose_title = "Impose an operator limit"
    list_display = ("player", "kind", "period", "currency", "source", "amount", "status",
                    "pending_amount", "pending_effective_at", "updated_at")
    list_filter = ("kind", "period", "source", "status")
    search_fields = ("player__username", "player__email")

    def impose(self, actor, data):
        return services.limit_impose(player_id=data["player"].pk, kind=data["kind"],
                                     period=data["period"], currency=data["currency"],
                                     amount=data["amount"], actor=actor, reason=data["reason"],
                                     now=timezone.now())


@admin.register(Exclusion)
class ExclusionAdmin(_ImposeAdmin):
    impose_form = ImposeExclusionForm
    impose_title = "Impose a time-out or self-exclusion"
    list_display = ("player", "kind", "source", "status", "starts_at", "ends_at", "reopen_at",
                    "ended_at")
    list_filter = ("kind", "source", "status")
    search_fields = ("player__username", "player__email")

    def impose(self, actor, data):
        return services.exclusion_impose(player_id=data["player"].pk, kind=data["kind"],
                                         days=data.get("days"), months=data.get("months"),
                                         indefinite=bool(data.get("indefinite")), actor=actor,
                                         reason=data["reason"], now=timezone.now())


@admin.register(RealityCheck)
class RealityCheckAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("player", "session", "issued_at", "elapsed_s", "net", "currency",
                    "acknowledged_at")
    search_fields = ("player__username",)


@admin.register(Profile)
class ProfileAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ("player", "reality_check_interval_s", "external_excluded",
                    "external_checked_at", "limit_prompt_context", "limit_prompt_answer")
    search_fields = ("player__username",)
