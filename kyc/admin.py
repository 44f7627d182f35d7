"""The compliance review queue in the admin.

Only compliance officers (kyc.permissions.can_review_kyc) see these pages. Nothing is
edited in place: every transition is a button that asks for a reason and calls the same
service as the backoffice API, so locks, history (who and why) and outbox events apply.
Documents are shown inline through the logged document view, never by a public URL.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_fsm import can_proceed

from common.admin import ReadOnlyAdminMixin, ReasonForm, TransitionButton, TransitionButtonsMixin
from common.errors import DomainError

from . import services
from .documents import PDF
from .models import (
    QUEUE_STATUSES,
    AMLProfile,
    AMLStatus,
    KYCApplication,
    KYCDocument,
    KYCStatus,
)
from .permissions import can_review_kyc
from .selectors import aml_status_get, kyc_application_history

DECIDE_KYC = "backoffice.decide_kyc"


class AMLStatusForm(ReasonForm):
    status = forms.ChoiceField(choices=AMLStatus.choices)
    field_order = ["status", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, required=False, **kwargs)

    def clean(self):
        cleaned = super().clean() or {}
        if cleaned.get("status") not in (None, AMLStatus.CLEAR) and not cleaned.get("reason"):
            self.add_error("reason", "A reason is required for review or blocked.")
        return cleaned


class ConfirmForm(ReasonForm):
    """No reason field: kyc_application_start_review takes no reason (it records "review
    started" with the officer), so asking for one would silently drop it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["reason"]


def _decidable(app: KYCApplication) -> bool:
    return app.status in (KYCStatus.SUBMITTED, KYCStatus.IN_REVIEW)


def _decision(service):
    def run(app, actor, reason, now):
        return service(application_id=app.pk, actor=actor, reason=reason, now=now)
    return run


def _start_review(app, actor, reason, now, *, data):
    return services.kyc_application_start_review(application_id=app.pk, actor=actor, now=now)


# Every decision asks for a reason, which the service writes into the history with the
# officer's name. Start review is a claim, not a decision (see ConfirmForm).
KYC_BUTTONS = [
    TransitionButton("start-review", "Start review", DECIDE_KYC,
                     allowed=lambda a: can_proceed(a.start_review), run=_start_review,
                     reason_required=False, form_class=ConfirmForm),
    TransitionButton("approve", "Approve", DECIDE_KYC, allowed=_decidable,
                     run=_decision(services.kyc_application_approve)),
    TransitionButton("request-resubmission", "Request resubmission", DECIDE_KYC,
                     allowed=_decidable,
                     run=_decision(services.kyc_application_request_resubmission)),
    TransitionButton("reject", "Reject", DECIDE_KYC, allowed=_decidable,
                     run=_decision(services.kyc_application_reject), danger=True),
    TransitionButton("allow-reapply", "Allow a new application", DECIDE_KYC,
                     allowed=lambda a: a.status == KYCStatus.REJECTED and not a.reapply_allowed,
                     run=_decision(services.kyc_application_allow_reapply)),
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
    fields = readonly_fields = ("kind", "content_type", "size", "uploaded_at", "preview")

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
        # Hover magnifies in place (backoffice.css .bo-zoom); a click opens it full size.
        return format_html(
            '<a class="bo-zoom" href="{0}" target="_blank" rel="noopener" title="Open full size">'
            '<img src="{0}" alt="{1}" style="max-width:360px;max-height:260px"></a>',
            url, doc.kind,
        )


class KYCQueueFilter(admin.SimpleListFilter):
    """The queue opens on what waits for a decision (submitted or in review); "All" and each
    status stay one click away."""

    title = "status"
    parameter_name = "queue"
    WAITING = "waiting"

    def lookups(self, request, model_admin):
        return [(self.WAITING, "Waiting for a decision"), *KYCStatus.choices, ("all", "All")]

    def choices(self, changelist):
        current = self.value() or self.WAITING
        for value, label in self.lookup_choices:
            yield {
                "selected": current == str(value),
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or self.WAITING
        if value == self.WAITING:
            return queryset.filter(status__in=QUEUE_STATUSES)
        if value == "all":
            return queryset
        return queryset.filter(status=value)


@admin.register(KYCApplication)
class KYCApplicationAdmin(TransitionButtonsMixin, ComplianceOnlyAdmin):
    """The review queue: oldest submission first. Decisions are the shared transition
    buttons (common.admin) under <id>/decide/<name>/."""

    transition_buttons = KYC_BUTTONS
    transition_path = "decide"
    list_display = ["id", "player", "status", "submitted_at", "waiting", "reviewer"]
    list_filter = [KYCQueueFilter]
    search_fields = ["=id", "player__username", "=player__id"]
    list_select_related = ["player", "reviewer"]
    ordering = ["submitted_at", "created_at"]
    inlines = [KYCDocumentInline]
    fields = readonly_fields = (
        "player", "status", "full_name", "date_of_birth", "address", "country", "aml_status",
        "reviewer", "decision_reason", "decided_at", "reapply_allowed", "previous",
        "submitted_at", "history_table")

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
            '<table class="bo-history"><tr><th>at</th><th>status</th><th>by</th><th>reason</th>'
            "</tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                             ((r["at"].strftime("%Y-%m-%d %H:%M:%S"), r["status"],
                               r["by"] or "-", r["reason"]) for r in rows)),
        )


@admin.register(AMLProfile)
class AMLProfileAdmin(ComplianceOnlyAdmin):
    change_form_template = "admin/kyc/amlprofile/change_form.html"
    list_display = ["player", "status", "changed_by", "changed_at"]
    list_filter = ["status"]
    search_fields = ["player__username", "=player__id"]
    list_select_related = ["player", "changed_by"]
    fields = readonly_fields = ("player", "status", "reason", "changed_by", "changed_at")

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
