"""The compliance review queue in the admin.

Only compliance officers (kyc.permissions.can_review_kyc) see these pages. Nothing is
edited in place: every transition is a button that asks for a reason and calls the same
service as the backoffice API, so locks, history (who and why) and outbox events apply.
Documents are shown inline through the logged document view, never by a public URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_fsm import can_proceed

from common.admin import ReadOnlyAdminMixin
from common.errors import DomainError

from . import services
from .documents import PDF
from .models import AMLProfile, AMLStatus, KYCApplication, KYCDocument, KYCStatus
from .permissions import can_review_kyc
from .selectors import aml_status_get, kyc_application_history


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             max_length=4000,
                             help_text="Recorded in the history with your name and the time.")

    def __init__(self, *args, required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required


class AMLStatusForm(ReasonForm):
    status = forms.ChoiceField(choices=AMLStatus.choices)
    field_order = ["status", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, required=False, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("status") not in (None, AMLStatus.CLEAR) and not cleaned.get("reason"):
            self.add_error("reason", "A reason is required for review or blocked.")
        return cleaned


class ConfirmForm(forms.Form):
    """No reason field: kyc_application_start_review takes no reason (it records "review
    started" with the officer), so asking for one would silently drop it."""


@dataclass(frozen=True)
class Decision:
    name: str
    label: str
    allowed: Callable[[KYCApplication], bool]
    run: Callable[..., object]  # run(application_id=, actor=, reason=, now=)
    takes_reason: bool = True  # a non-empty reason is required and passed to the service


def _decidable(app: KYCApplication) -> bool:
    return app.status in (KYCStatus.SUBMITTED, KYCStatus.IN_REVIEW)


def _start_review(*, application_id, actor, reason, now):
    return services.kyc_application_start_review(application_id=application_id, actor=actor,
                                                 now=now)


# Every decision asks for a reason, which the service writes into the history with the
# officer's name. Start review is a claim, not a decision (see ConfirmForm).
DECISIONS = [
    Decision("start-review", "Start review", lambda a: can_proceed(a.start_review),
             _start_review, takes_reason=False),
    Decision("approve", "Approve", _decidable, services.kyc_application_approve),
    Decision("request-resubmission", "Request resubmission", _decidable,
             services.kyc_application_request_resubmission),
    Decision("reject", "Reject", _decidable, services.kyc_application_reject),
    Decision("allow-reapply", "Allow a new application",
             lambda a: a.status == KYCStatus.REJECTED and not a.reapply_allowed,
             services.kyc_application_allow_reapply),
]


class ComplianceOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Visible to compliance officers only; read-only for everyone."""

    def has_module_permission(self, request):
        return can_review_kyc(request.user)

    def has_view_permission(self, request, obj=None):
        return can_review_kyc(request.user)

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}


class KYCDocumentInline(admin.TabularInline):
    model = KYCDocument
    extra = 0
    can_delete = False
    fields = ["kind", "content_type", "size", "uploaded_at", "preview"]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return can_review_kyc(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="document")
    def preview(self, doc: KYCDocument):
        url = reverse("kyc-document-read", kwargs={"document_id": doc.pk})
        if doc.content_type == PDF:
            return format_html('<a href="{}" target="_blank" rel="noopener">Open PDF</a>', url)
        return format_html(
            '<a href="{0}" target="_blank" rel="noopener">'
            '<img src="{0}" alt="{1}" style="max-width:360px;max-height:260px"></a>',
            url, doc.kind,
        )


@admin.register(KYCApplication)
class KYCApplicationAdmin(ComplianceOnlyAdmin):
    """The review queue: oldest submission first."""

    change_form_template = "admin/kyc/kycapplication/change_form.html"
    list_display = ["id", "player", "status", "submitted_at", "waiting", "reviewer"]
    list_filter = ["status"]
    search_fields = ["=id", "player__username", "=player__id"]
    list_select_related = ["player", "reviewer"]
    ordering = ["submitted_at", "created_at"]
    inlines = [KYCDocumentInline]
    fields = ["player", "status", "aml_status", "reviewer", "decision_reason", "decided_at",
              "reapply_allowed", "previous", "submitted_at", "history_table"]
    readonly_fields = fields

    @admin.display(description="waiting")
    def waiting(self, app: KYCApplication):
        if app.status not in (KYCStatus.SUBMITTED, KYCStatus.IN_REVIEW):
            return "-"
        age = timezone.now() - app.submitted_at
        hours = int(age.total_seconds() // 3600)
        return f"{hours // 24}d {hours % 24}h"

    @admin.display(description="AML status")
    def aml_status(self, app: KYCApplication):
        url = reverse("admin:kyc_amlprofile_set", args=[app.player_id])
        return format_html('{} (<a href="{}">change</a>)', aml_status_get(player_id=app.player_id),
                           url)

    @admin.display(description="history")
    def history_table(self, app: KYCApplication):
        rows = kyc_application_history(application=app)
        return format_html(
            "<table><tr><th>at</th><th>status</th><th>by</th><th>reason</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                             ((r["at"].strftime("%Y-%m-%d %H:%M:%S"), r["status"],
                               r["by"] or "-", r["reason"]) for r in rows)),
        )

    def get_urls(self):
        return [
            path("<uuid:object_id>/decide/<slug:name>/",
                 self.admin_site.admin_view(self.decision_view), name="kyc_kycapplication_decide"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        buttons = []
        if obj is not None and can_review_kyc(request.user):
            buttons = [
                {"label": d.label, "danger": d.name == "reject",
                 "url": reverse("admin:kyc_kycapplication_decide", args=[obj.pk, d.name])}
                for d in DECISIONS if d.allowed(obj)
            ]
        extra_context = {**(extra_context or {}), "kyc_buttons": buttons}
        return super().change_view(request, object_id, form_url, extra_context)

    def decision_view(self, request, object_id, name):
        if not can_review_kyc(request.user):
            raise PermissionDenied
        obj = self.get_object(request, str(object_id))
        decision = next((d for d in DECISIONS if d.name == name), None)
        if obj is None or decision is None:
            raise Http404
        change_url = reverse("admin:kyc_kycapplication_change", args=[obj.pk])
        if not decision.allowed(obj):
            messages.error(request, f"“{decision.label}” is not allowed for a {obj.status} "
                                    "application.")
            return HttpResponseRedirect(change_url)
        data = request.POST if request.method == "POST" else None
        form = ReasonForm(data) if decision.takes_reason else ConfirmForm(data)
        if request.method == "POST" and form.is_valid():
            try:
                decision.run(application_id=obj.pk, actor=request.user,
                             reason=form.cleaned_data.get("reason", ""), now=timezone.now())
            except DomainError as exc:
                messages.error(request, f"{decision.label} refused: {exc.detail} [{exc.code}]")
            else:
                messages.success(request, f"{decision.label}: done for {obj}.")
            return HttpResponseRedirect(change_url)
        return TemplateResponse(request, "kyc/admin/reason_form.html", self._context(
            request, title=f"{decision.label}: {obj}", object=obj, form=form,
            change_url=change_url, submit_label=decision.label))


@admin.register(AMLProfile)
class AMLProfileAdmin(ComplianceOnlyAdmin):
    change_form_template = "admin/kyc/amlprofile/change_form.html"
    list_display = ["player", "status", "changed_by", "changed_at"]
    list_filter = ["status"]
    search_fields = ["player__username", "=player__id"]
    list_select_related = ["player", "changed_by"]
    fields = ["player", "status", "reason", "changed_by", "changed_at"]
    readonly_fields = fields

    def get_urls(self):
        return [
            path("set/<int:player_id>/", self.admin_site.admin_view(self.set_status_view),
                 name="kyc_amlprofile_set"),
        ] + super().get_urls()

    def set_status_view(self, request, player_id):
        if not can_review_kyc(request.user):
            raise PermissionDenied
        back = request.GET.get("next") or reverse("admin:kyc_amlprofile_changelist")
        if not back.startswith("/"):
            back = reverse("admin:kyc_amlprofile_changelist")
        form = AMLStatusForm(request.POST or None,
                             initial={"status": aml_status_get(player_id=player_id)})
        if request.method == "POST" and form.is_valid():
            try:
                services.aml_status_change(player_id=player_id, actor=request.user,
                                           status=form.cleaned_data["status"],
                                           reason=form.cleaned_data["reason"],
                                           now=timezone.now())
            except DomainError as exc:
                messages.error(request, f"AML status refused: {exc.detail} [{exc.code}]")
            else:
                messages.success(request, f"AML status of player {player_id} is now "
                                          f"{form.cleaned_data['status']}.")
            return HttpResponseRedirect(back)
        return TemplateResponse(request, "kyc/admin/reason_form.html", self._context(
            request, title=f"AML status of player {player_id}", object=None, form=form,
            change_url=back, submit_label="Set AML status"))
