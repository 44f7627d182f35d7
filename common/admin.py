"""Admin buttons for state transitions: shown only to staff whose role holds the button's
permission and only while the transition is allowed; each asks for a reason that is passed
to the service (which writes it into the history) and then reports the outcome.

Usage in any app's admin.py:

    class WithdrawalAdmin(TransitionButtonsMixin, admin.ModelAdmin):
        transition_buttons = [
            TransitionButton("approve", "Approve", "backoffice.decide_withdrawal",
                             allowed=lambda w: can_proceed(w.approve),
                             run=lambda obj, actor, reason, now: withdrawal_approve(...)),
        ]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from common.errors import DomainError

from .models import IdempotencyRecord


@dataclass(frozen=True)
class TransitionButton:
    name: str
    label: str
    permission: str  # "app_label.codename"
    allowed: Callable[[Any], bool]
    run: Callable[..., Any]  # run(obj, actor, reason, now)
    reason_required: bool = True
    danger: bool = False


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000,
        help_text="Recorded in the history with your name and the time.",
    )

    def __init__(self, *args, required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required


class TransitionButtonsMixin:
    transition_buttons: list[TransitionButton] = []
    change_form_template = "admin/backoffice/change_form_transitions.html"

    def available_buttons(self, request, obj) -> list[TransitionButton]:
        if obj is None:
            return []
        return [b for b in self.transition_buttons
                if request.user.has_perm(b.permission) and b.allowed(obj)]

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path("<path:object_id>/transition/<str:name>/",
                 self.admin_site.admin_view(self.transition_view),
                 name=f"{info[0]}_{info[1]}_transition"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        info = self.model._meta.app_label, self.model._meta.model_name
        buttons = [
            {"name": b.name, "label": b.label, "danger": b.danger,
             "url": reverse(f"admin:{info[0]}_{info[1]}_transition", args=[object_id, b.name],
                            current_app=self.admin_site.name)}
            for b in self.available_buttons(request, obj)
        ]
        extra_context = {**(extra_context or {}), "transition_buttons": buttons}
        return super().change_view(request, object_id, form_url, extra_context)

    def transition_view(self, request, object_id, name):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        button = next((b for b in self.transition_buttons if b.name == name), None)
        if button is None:
            raise Http404
        if not request.user.has_perm(button.permission):
            raise PermissionDenied
        info = self.model._meta.app_label, self.model._meta.model_name
        change_url = reverse(f"admin:{info[0]}_{info[1]}_change", args=[object_id],
                             current_app=self.admin_site.name)
        if not button.allowed(obj):
            messages.error(request, f"“{button.label}” is not allowed in the current state.")
            return HttpResponseRedirect(change_url)
        form = ReasonForm(request.POST or None, required=button.reason_required)
        if request.method == "POST" and form.is_valid():
            try:
                button.run(obj, request.user, form.cleaned_data["reason"], timezone.now())
            except DomainError as exc:
                messages.error(request, f"{button.label} refused: {exc.detail} [{exc.code}]")
            else:
                messages.success(request, f"{button.label}: done for {obj}.")
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{button.label}: {obj}",
            "opts": self.model._meta,
            "object": obj,
            "button": button,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/backoffice/transition_reason.html", context)


class ReadOnlyAdminMixin:
    """Nobody adds, changes or deletes these rows in the admin, whatever their permissions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return {}


# Registered here because the idempotency record is common's own model.
@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "user", "key", "status", "response_status", "created_at"]
    list_filter = ["status"]
    search_fields = ["key", "=user__id"]
