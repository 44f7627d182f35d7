from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django_fsm import can_proceed
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ReadOnlyAdminMixin, TransitionButton, TransitionButtonsMixin
from common.errors import DomainError
from common.money import format_amount

from .forms import AdjustmentProposeForm
from .models import AuditExport, ManualAdjustment
from .services import adjustment_approve, adjustment_propose, adjustment_reject


def _approve(obj, actor, reason, now):
    return adjustment_approve(adjustment_id=obj.pk, actor=actor, reason=reason, now=now)


def _reject(obj, actor, reason, now):
    return adjustment_reject(adjustment_id=obj.pk, actor=actor, reason=reason, now=now)


@admin.register(ManualAdjustment)
class ManualAdjustmentAdmin(TransitionButtonsMixin, SimpleHistoryAdmin):
    """Proposals are added here; approval and rejection are buttons for a second person."""

    list_display = ["id", "player", "amount_display", "status", "proposed_by", "proposed_at",
                    "decided_by", "decided_at"]
    list_filter = ["status", "currency"]
    search_fields = ["=id", "player__username", "=player__id"]
    list_select_related = ["player", "proposed_by", "decided_by"]
    transition_buttons = [
        TransitionButton("approve", "Approve and post", "backoffice.approve_adjustment",
                         allowed=lambda a: can_proceed(a.approve), run=_approve),
        TransitionButton("reject", "Reject", "backoffice.approve_adjustment",
                         allowed=lambda a: can_proceed(a.reject), run=_reject, danger=True),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return request.user.has_perm("backoffice.propose_adjustment")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="amount")
    def amount_display(self, obj):
        sign = "+" if obj.amount > 0 else "-"
        return f"{sign}{format_amount(abs(obj.amount), obj.currency)} {obj.currency}"

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = AdjustmentProposeForm(request.POST or None,
                                     initial={"player": request.GET.get("player", "")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                adjustment = adjustment_propose(
                    player_id=data["player"].pk, currency=data["currency"],
                    amount=data["minor"], reason=data["reason"], actor=request.user,
                    now=timezone.now(),
                )
            except DomainError as exc:
                form.add_error(None, f"{exc.detail} [{exc.code}]")
            else:
                messages.success(request, f"{adjustment} proposed; a second staff member with "
                                          "approval rights must approve it before it is posted.")
                return HttpResponseRedirect(
                    reverse("admin:backoffice_manualadjustment_change", args=[adjustment.pk])
                )
        context = {**self.admin_site.each_context(request), "title": "Propose a manual adjustment",
                   "form": form, "opts": self.model._meta}
        return TemplateResponse(request, "admin/backoffice/adjustment_propose.html", context)


@admin.register(AuditExport)
class AuditExportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "requested_by", "channel", "format", "filters", "row_count", "sha256",
                    "started_at", "completed_at"]
    list_filter = ["format", "channel"]
    change_list_template = "admin/backoffice/auditexport_changelist.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
