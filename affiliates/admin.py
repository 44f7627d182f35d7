"""Affiliates in the admin: partners and their plans (editable, with history), attributions,
closes, CPA lines and payouts (read-only evidence). The statement of selected affiliates
downloads as CSV; a payout is a button on the affiliate's page."""

import csv
import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import serializers
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ReadOnlyAdminMixin, ReasonForm, TransitionButton, TransitionButtonsMixin
from common.denied import require_perm
from common.errors import DomainError
from common.money import format_amount, parse_amount

from .models import Affiliate, AffiliateClose, AffiliatePayout, Attribution, CpaClawback, CpaPayment
from .selectors import STATEMENT_COLUMNS, affiliate_payable, affiliate_statement_rows
from .services import affiliate_close_month, affiliate_payout, previous_month

MONEY_COLUMNS = {"gross_gaming_revenue", "bonus_cost", "fee_cost", "net_gaming_revenue",
                 "carry_in", "revshare", "carry_out", "cpa_total", "clawback_total", "amount"}


def _signed(amount: int, currency: str) -> str:
    return ("-" if amount < 0 else "") + format_amount(abs(amount), currency)


def statement_csv(affiliates) -> str:
    """The statement rows of `affiliates` as CSV, amounts as decimal strings."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["affiliate", "code", *STATEMENT_COLUMNS])
    for affiliate in affiliates:
        for row in affiliate_statement_rows(affiliate=affiliate):
            cells = []
            for col in STATEMENT_COLUMNS:
                value = row.get(col, "")
                if col in MONEY_COLUMNS and value != "":
                    value = _signed(value, row["currency"])
                cells.append(value)
            writer.writerow([affiliate.name, affiliate.code, *cells])
    return out.getvalue()


class PayoutForm(ReasonForm):
    amount = forms.CharField(max_length=32, help_text="In the affiliate's currency.")
    field_order = ["amount", "reason"]

    def clean_amount(self):
        try:
            return parse_amount(self.cleaned_data["amount"].strip(), self.obj.currency)
        except serializers.ValidationError as exc:
            detail: Any = exc.detail  # {"amount": [message]} from parse_amount
            raise forms.ValidationError(detail["amount"][0]) from None


def _payout(obj, actor, reason, now, data):
    return affiliate_payout(affiliate_id=obj.pk, amount=data["amount"], reason=reason, actor=actor,
                            now=now)


@admin.register(Affiliate)
class AffiliateAdmin(TransitionButtonsMixin, SimpleHistoryAdmin):
    list_display = ["id", "name", "code", "currency", "cpa_display", "revshare_bp",
                    "referred", "payable_display", "active"]
    list_filter = ["active", "currency"]
    search_fields = ["name", "code"]
    fields = ["name", "code", "currency", "cpa_amount", "cpa_threshold", "revshare_bp", "active"]
    actions = ["download_statement", "close_previous_month"]
    transition_buttons = [
        TransitionButton("payout", "Record a payout to the affiliate",
                         "affiliates.add_affiliatepayout", allowed=lambda a: True, run=_payout,
                         form_class=PayoutForm),
    ]

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # The code is what players registered with: fixed once the affiliate exists.
        return ["code", "currency"] if obj else []

    @admin.display(description="CPA")
    def cpa_display(self, obj):
        if not obj.cpa_amount:
            return "-"
        return (f"{format_amount(obj.cpa_amount, obj.currency)} at "
                f"{format_amount(obj.cpa_threshold, obj.currency)}")

    @admin.display(description="referred players")
    def referred(self, obj):
        return obj.attributions.count()

    @admin.display(description="payable")
    def payable_display(self, obj):
        return _signed(affiliate_payable(affiliate=obj), obj.currency)

    @admin.action(description="Download statement (CSV)")
    def download_statement(self, request, queryset):
        response = HttpResponse(statement_csv(queryset.order_by("pk")), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="affiliate-statement.csv"'
        return response

    @admin.action(description="Close the previous month (safe to repeat)")
    def close_previous_month(self, request, queryset):
        require_perm(request.user, "affiliates.add_affiliateclose", "closing a month")
        now = timezone.now()
        month = previous_month(now)
        for affiliate in queryset:
            try:
                close = affiliate_close_month(affiliate_id=affiliate.pk, month=month, now=now)
            except DomainError as exc:
                messages.error(request, f"{affiliate}: {exc.detail} [{exc.code}]")
            else:
                messages.success(request, f"{affiliate} {month:%Y-%m}: "
                                          f"{_signed(close.commission, close.currency)}")


@admin.register(Attribution)
class AttributionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["player", "affiliate", "attributed_at"]
    list_filter = ["affiliate"]
    search_fields = ["=player__id", "player__username", "affiliate__code"]
    list_select_related = ["player", "affiliate"]


class CpaInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CpaPayment
    fields = ["player", "deposit", "amount"]
    readonly_fields = ["player", "deposit", "amount"]
    extra = 0


@admin.register(AffiliateClose)
class AffiliateCloseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["affiliate", "month", "currency", "net_gaming_revenue", "carry_in", "revshare",
                    "cpa_total", "clawback_total", "commission", "ledger_transaction"]
    list_filter = ["affiliate", "month"]
    inlines = [CpaInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(AffiliatePayout)
class AffiliatePayoutAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["affiliate", "amount", "currency", "reason", "created_by", "created_at"]
    list_filter = ["affiliate"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(CpaClawback)
class CpaClawbackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["payment", "close", "amount"]
