"""Admin for findings, alerts, parked tasks, read models and provider reports.

Resolving a discrepancy and uploading a provider report are payments-role actions; every
action calls a service, so the admin and the API behave the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from casino.policy import provider_names as casino_provider_names
from common.admin import AdminMixinBase, ReadOnlyAdminMixin
from common.errors import DomainError
from users.roles import COMPLIANCE, PAYMENTS, user_has_role
from wallet.models import PaymentProvider

from . import services
from .models import (
    Alert,
    Discrepancy,
    OperatorDailyKpi,
    PlayerSummary,
    ProviderReport,
    ProviderReportLine,
)
from .provider_reports import CASINO_PREFIX
from .readmodels import OPERATOR_KPI, PLAYER_SUMMARY
from .selectors import read_model_lag


class ReadOnlyMixin(ReadOnlyAdminMixin):
    """The shared read-only admin, readable by payments and compliance as in the API; the
    actions below call services and check the payments role themselves."""

    service_actions = True

    def has_view_permission(self, request, obj=None):
        return user_has_role(request.user, PAYMENTS, COMPLIANCE) or super().has_view_permission(
            request, obj)

    def has_module_permission(self, request):
        return self.has_view_permission(request)


def _require_payments(request) -> None:
    if not user_has_role(request.user, PAYMENTS):
        raise PermissionDenied("Only the payments role may do this.")


class ResolveForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("id", "kind", "status", "subject", "currency", "expected", "actual",
                    "seen_count", "detected_at", "last_seen_at")
    list_filter = ("status", "kind", "currency")
    search_fields = ("subject", "fingerprint")
    readonly_fields = [f.name for f in Discrepancy._meta.fields]
    # Fields are never edited here; the actions (payments role, checked inside) call the
    # services, which record who and why in the history.
    actions = ["mark_investigating", "resolve_with_reason"]

    @admin.action(description="Mark as investigating")
    def mark_investigating(self, request, queryset):
        _require_payments(request)
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                services.discrepancy_investigate(discrepancy_id=pk, actor=request.user,
                                                 now=timezone.now())
                done += 1
            except DomainError as exc:
                self.message_user(request, f"#{pk}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"{done} discrepancies under investigation.")

    @admin.action(description="Resolve with a reason")
    def resolve_with_reason(self, request, queryset):
        _require_payments(request)
        form = ResolveForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for pk in queryset.values_list("pk", flat=True):
                try:
                    services.discrepancy_resolve(discrepancy_id=pk, actor=request.user,
                                                 reason=form.cleaned_data["reason"],
                                                 now=timezone.now())
                    done += 1
                except DomainError as exc:
                    self.message_user(request, f"#{pk}: {exc.detail}", messages.WARNING)
            self.message_user(request, f"{done} discrepancies resolved.")
            return None
        return render(request, "admin/reconciliation/resolve.html", {
            **self.admin_site.each_context(request), "title": "Resolve discrepancies",
            "form": form, "queryset": queryset, "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })


@admin.register(Alert)
class AlertAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "severity", "detail", "value", "threshold", "raised_at",
                    "last_seen_at", "cleared_at")
    list_filter = ("severity", ("cleared_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "detail")


class LagWarningMixin(AdminMixinBase):
    consumer = ""

    def changelist_view(self, request, extra_context=None):
        lag = read_model_lag(consumer=self.consumer, now=timezone.now())
        if lag.lagging:
            self.message_user(request, f"This read model is {lag.total_seconds:.0f}s behind "
                                       f"({lag.pending_events} events not applied yet): figures "
                                       "may be stale.", messages.WARNING)
        return super().changelist_view(request, extra_context)


@admin.register(PlayerSummary)
class PlayerSummaryAdmin(LagWarningMixin, ReadOnlyMixin, admin.ModelAdmin):
    consumer = PLAYER_SUMMARY
    list_display = ("player_id", "currency", "deposits", "withdrawals", "stakes", "wins",
                    "adjustments", "net", "events_applied", "last_event_at")
    list_filter = ("currency",)
    search_fields = ("player__username",)


@admin.register(OperatorDailyKpi)
class OperatorDailyKpiAdmin(LagWarningMixin, ReadOnlyMixin, admin.ModelAdmin):
    consumer = OPERATOR_KPI
    list_display = ("day", "currency", "deposits", "withdrawals", "stakes", "payouts", "ggr",
                    "active_players")
    list_filter = ("currency",)
    date_hierarchy = "day"


class ProviderReportUploadForm(forms.Form):
    provider = forms.ChoiceField(choices=[])
    file = forms.FileField(help_text="CSV: provider_transaction_id, type, amount, currency, "
                                     "status, occurred_at (casino: transaction_uuid, type, "
                                     "amount, currency, created_at)")
    period_start = forms.DateField(required=False, help_text="default: first line's day")
    period_end = forms.DateField(required=False, help_text="default: last line's day")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Game providers' daily transaction reports too (docs/seamless-wallet.md).
        self.fields["provider"].choices = PaymentProvider.choices + [  # type: ignore[attr-defined]
            (f"{CASINO_PREFIX}{name}", f"casino: {name}") for name in casino_provider_names()]


class ProviderReportLineInline(admin.TabularInline):
    model = ProviderReportLine
    extra = 0
    can_delete = False
    readonly_fields = ("provider_transaction_id", "kind", "amount", "currency", "status",
                       "occurred_at")

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return user_has_role(request.user, PAYMENTS, COMPLIANCE) or super().has_view_permission(
            request, obj)


@admin.register(ProviderReport)
class ProviderReportAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "provider", "filename", "period_start", "period_end", "line_count",
                    "findings", "uploaded_by", "imported_at")
    inlines = [ProviderReportLineInline]
    change_list_template = "admin/reconciliation/providerreport/change_list.html"

    def get_urls(self):
        return [path("upload/", self.admin_site.admin_view(self.upload_view),
                     name="reconciliation_providerreport_upload"), *super().get_urls()]

    def upload_view(self, request):
        _require_payments(request)
        form = ProviderReportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data

            def day(d, end=False):
                if d is None:
                    return None
                return timezone.make_aware(datetime.combine(d, time.max if end else time.min),
                                           UTC)

            try:
                result = services.provider_report_import(
                    provider=data["provider"], raw=data["file"].read(),
                    filename=data["file"].name, uploaded_by=request.user,
                    period_start=day(data["period_start"]),
                    period_end=day(data["period_end"], end=True), now=timezone.now())
            except DomainError as exc:
                form.add_error(None, f"{exc.detail} ({exc.code})")
            else:
                self.message_user(request, f"Imported {result.report.line_count} lines: "
                                           f"{result.findings} findings, {result.new} new.")
                return HttpResponseRedirect(
                    reverse("admin:reconciliation_discrepancy_changelist"))
        return render(request, "admin/reconciliation/upload.html", {
            **self.admin_site.each_context(request), "title": "Upload a provider report",
            "form": form, "opts": self.model._meta,
        })
