"""The one admin screen for state transitions, shared by every app.

A `TransitionButton` on a change page is shown only to staff holding its permission and only
while `allowed(obj)` says the transition may happen. Pressing it opens one page that asks
for a reason (required unless `reason_required=False`) and, when the button has a
`form_class`, for whatever else the transition needs (a market's winners, say); then it
calls the app's service, which writes the reason into the history, and reports the outcome.

Usage in any app's admin.py:

    class WithdrawalAdmin(TransitionButtonsMixin, admin.ModelAdmin):
        transition_buttons = [
            TransitionButton("approve", "Approve", "backoffice.decide_withdrawal",
                             allowed=lambda w: can_proceed(w.approve),
                             run=lambda obj, actor, reason, now: withdrawal_approve(...)),
            TransitionButton("settle", "Settle", "backoffice.trade_markets",
                             allowed=..., form_class=SettleForm,  # SettleForm(data, obj=obj)
                             run=lambda obj, actor, reason, now, data: market_settle(...)),
        ]

`run(obj, actor, reason, now)` is called with `data=<the form's cleaned_data>` as well when
the button has a form. A refused press raises `common.denied.MissingPermission`, so the 403
page names the permission and the roles holding it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from common.denied import MissingPermission, require_perm
from common.errors import DomainError

from .models import IdempotencyRecord

# The mixins go before admin.ModelAdmin in an admin's bases; the type checker sees them as
# ModelAdmins so their super() calls and self.model/admin_site are known.
if TYPE_CHECKING:
    AdminMixinBase = admin.ModelAdmin
else:
    AdminMixinBase = object


class ReasonForm(forms.Form):
    """The reason every transition asks for; a button's own form extends it."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000,
        help_text="Recorded in the history with your name and the time.",
    )

    def __init__(self, *args, required: bool = True, obj=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.obj = obj
        self.fields["reason"].required = required


@dataclass(frozen=True)
class TransitionButton:
    name: str
    label: str
    permission: str  # "app_label.codename"
    allowed: Callable[[Any], bool]
    run: Callable[..., Any]  # run(obj, actor, reason, now[, data=cleaned_data])
    reason_required: bool = True
    danger: bool = False
    # A ReasonForm subclass asking for more than a reason; built as form_class(data, obj=obj).
    form_class: type[ReasonForm] | None = None
    # Shown after a successful press ("{label}: done for {obj}." by default).
    success_message: str = ""


class TransitionButtonsMixin(AdminMixinBase):
    transition_buttons: list[TransitionButton] = []
    change_form_template = "admin/backoffice/change_form_transitions.html"
    # The URL segment of the buttons: <pk>/<transition_path>/<name>/.
    transition_path = "transition"

    def available_buttons(self, request, obj) -> list[TransitionButton]:
        if obj is None:
            return []
        return [b for b in self.transition_buttons
                if request.user.has_perm(b.permission) and b.allowed(obj)]

    def _transition_url_name(self) -> str:
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}_transition"

    def get_urls(self):
        return [
            path(f"<path:object_id>/{self.transition_path}/<str:name>/",
                 self.admin_site.admin_view(self.transition_view),
                 name=self._transition_url_name()),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        buttons = [
            {"name": b.name, "label": b.label, "danger": b.danger,
             "url": reverse(f"admin:{self._transition_url_name()}", args=[object_id, b.name],
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
            opts = self.model._meta
            raise MissingPermission(f"{opts.app_label}.view_{opts.model_name}")
        button = next((b for b in self.transition_buttons if b.name == name), None)
        if button is None:
            raise Http404
        require_perm(request.user, button.permission, f"“{button.label}”")
        opts = self.model._meta
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id],
                             current_app=self.admin_site.name)
        if not button.allowed(obj):
            messages.error(request, f"“{button.label}” is not allowed in the current state.")
            return HttpResponseRedirect(change_url)
        form_class = button.form_class or ReasonForm
        data = request.POST if request.method == "POST" else None
        form = form_class(data, obj=obj, required=button.reason_required)
        if request.method == "POST" and form.is_valid():
            extra = {"data": form.cleaned_data} if button.form_class else {}
            try:
                button.run(obj, request.user, form.cleaned_data.get("reason", ""),
                           timezone.now(), **extra)
            except DomainError as exc:
                messages.error(request, f"{button.label} refused: {exc.detail} [{exc.code}]")
            else:
                messages.success(request, button.success_message
                                 or f"{button.label}: done for {obj}.")
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{button.label}: {obj}",
            "opts": opts,
            "object": obj,
            "button": button,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/backoffice/transition_reason.html", context)


class ReadOnlyAdminMixin(AdminMixinBase):
    """Nobody adds, changes or deletes these rows in the admin, whatever their permissions.

    Bulk actions are removed too, unless the admin sets `service_actions = True` for actions
    of its own that each call a service (and check the role); Django's delete stays refused
    by has_delete_permission.
    """

    service_actions = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return super().get_actions(request) if self.service_actions else {}


# Registered here because the idempotency record is common's own model.
@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "user", "key", "status", "response_status", "created_at"]
    list_filter = ["status"]
    search_fields = ["key", "=user__id"]
