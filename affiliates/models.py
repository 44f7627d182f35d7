"""Affiliates: partners with a tracking code, the players they referred (attribution, fixed
at registration), and the monthly close that turns the referred players' activity into a
commission owed (docs/refunds-fees-affiliates.md).

Attribution, closes, CPA payments and clawbacks, and payouts are append-only (a PostgreSQL
trigger refuses UPDATE and DELETE): an attribution cannot change, a close is final.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from simple_history.models import HistoricalRecords

from common.money import format_amount


class Affiliate(models.Model):
    """A partner and their plan: CPA (a flat `cpa_amount` once per referred player whose
    qualifying deposit reaches `cpa_threshold`) and/or revenue share (`revshare_bp` of the
    referred players' net gaming revenue, negative months carried over). One currency."""

    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=64, unique=True, help_text="tracking code, lower case")
    currency = models.CharField(max_length=8, default="USD")
    cpa_amount = models.BigIntegerField(default=0, help_text="minor units; 0: no CPA")
    cpa_threshold = models.BigIntegerField(default=0, help_text="minor units")
    revshare_bp = models.PositiveIntegerField(default=0, help_text="basis points of NGR")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(db_default=Now())
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(revshare_bp__lte=10_000), name="affiliate_revshare_at_most_100"),
            models.CheckConstraint(condition=Q(cpa_amount__gte=0) & Q(cpa_threshold__gte=0),
                                   name="affiliate_cpa_non_negative"),
            models.CheckConstraint(condition=Q(code=models.functions.Lower("code")),
                                   name="affiliate_code_lower_case"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Attribution(models.Model):
    """The affiliate a player registered through. Written once, in the registration
    transaction; never updated or deleted (append-only trigger)."""

    player = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True,
                                  on_delete=models.PROTECT, related_name="affiliate_attribution")
    affiliate = models.ForeignKey(Affiliate, on_delete=models.PROTECT, related_name="attributions")
    attributed_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"player {self.player_id} via {self.affiliate_id}"


class AffiliateClose(models.Model):
    """One affiliate's month: the figures it was computed from and the commission posted."""

    affiliate = models.ForeignKey(Affiliate, on_delete=models.PROTECT, related_name="closes")
    month = models.DateField(help_text="first day of the month")
    currency = models.CharField(max_length=8)
    gross_gaming_revenue = models.BigIntegerField()  # stakes - wins
    bonus_cost = models.BigIntegerField()  # bonuses converted to cash
    fee_cost = models.BigIntegerField()  # operator-borne payment fees
    net_gaming_revenue = models.BigIntegerField()
    carry_in = models.BigIntegerField()  # <= 0: the previous months' uncovered negative NGR
    carry_out = models.BigIntegerField()
    revshare = models.BigIntegerField()
    cpa_count = models.IntegerField()
    cpa_total = models.BigIntegerField()
    clawback_total = models.BigIntegerField()
    commission = models.BigIntegerField()  # revshare + cpa - clawbacks: what was posted
    ledger_transaction = models.OneToOneField("wallet.Transaction", null=True, blank=True,
                                              on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["affiliate", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["affiliate", "month"], name="affiliate_close_once"),
            models.CheckConstraint(condition=Q(carry_in__lte=0) & Q(carry_out__lte=0),
                                   name="affiliate_carry_non_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.affiliate_id} {self.month:%Y-%m}: {format_amount(self.commission, self.currency)}"


class CpaPayment(models.Model):
    """The CPA of one referred player: paid once (unique player), by one close."""

    player = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True,
                                  on_delete=models.PROTECT, related_name="+")
    affiliate = models.ForeignKey(Affiliate, on_delete=models.PROTECT, related_name="+")
    close = models.ForeignKey(AffiliateClose, on_delete=models.PROTECT, related_name="cpa_payments")
    deposit = models.ForeignKey("wallet.Deposit", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()

    def __str__(self) -> str:
        return f"CPA for player {self.player_id}"


class CpaClawback(models.Model):
    """A CPA taken back because its qualifying deposit was refunded below the threshold."""

    payment = models.OneToOneField(CpaPayment, primary_key=True, on_delete=models.PROTECT,
                                   related_name="clawback")
    close = models.ForeignKey(AffiliateClose, on_delete=models.PROTECT, related_name="clawbacks")
    amount = models.BigIntegerField()

    def __str__(self) -> str:
        return f"CPA clawback for player {self.payment_id}"


class AffiliatePayout(models.Model):
    """Money paid to an affiliate out of what is payable."""

    affiliate = models.ForeignKey(Affiliate, on_delete=models.PROTECT, related_name="payouts")
    currency = models.CharField(max_length=8)
    amount = models.BigIntegerField()
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ledger_transaction = models.OneToOneField("wallet.Transaction", on_delete=models.PROTECT,
                                              related_name="+")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="affiliate_payout_positive")]

    def __str__(self) -> str:
        return f"payout {format_amount(self.amount, self.currency)} {self.currency} to {self.affiliate_id}"
