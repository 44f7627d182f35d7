"""Reads for the close (on the primary, inside its transaction) and for staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from wallet.models import (
    Account,
    AccountKind,
    Entry,
    FeeBearer,
    FeeCharge,
    Transaction,
    TransactionKind,
)

from .models import Affiliate, AffiliateClose, AffiliatePayout, Attribution

# Ledger kinds whose house entries are gaming revenue (stakes in, wins out).
GAMING_KINDS = (TransactionKind.BET_SETTLE, TransactionKind.ROUND_SETTLE, TransactionKind.CASINO_BET,
                TransactionKind.CASINO_WIN, TransactionKind.CASINO_ROLLBACK)


@dataclass(frozen=True)
class RevenueFigures:
    gross_gaming_revenue: int
    bonus_cost: int
    fee_cost: int

    @property
    def net_gaming_revenue(self) -> int:
        return self.gross_gaming_revenue - self.bonus_cost - self.fee_cost


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


_REVENUE_SQL = f"""
WITH referred AS (
    SELECT a.id FROM {_t(Account)} a JOIN {_t(Attribution)} at ON at.player_id = a.owner_id
     WHERE at.affiliate_id = %(affiliate)s AND a.currency = %(currency)s
),
txns AS (
    SELECT DISTINCT e.transaction_id FROM {_t(Entry)} e
     WHERE e.account_id IN (SELECT id FROM referred)
)
SELECT
  COALESCE(SUM(CASE WHEN t.kind = ANY(%(gaming)s) AND ha.kind = %(house)s THEN h.amount END), 0),
  COALESCE(SUM(CASE WHEN t.kind = ANY(%(bonus)s) AND h.account_id IN (SELECT id FROM referred)
                    AND h.amount > 0 THEN h.amount END), 0)
  FROM txns
  JOIN {_t(Transaction)} t ON t.id = txns.transaction_id
   AND t.created_at >= %(start)s AND t.created_at < %(end)s
  JOIN {_t(Entry)} h ON h.transaction_id = t.id
  JOIN {_t(Account)} ha ON ha.id = h.account_id
"""


def revenue_figures(*, affiliate: Affiliate, start: datetime, end: datetime) -> RevenueFigures:
    """Stakes minus wins (the house's side of the referred players' gaming transactions),
    bonuses converted to their cash, and operator-borne fees on their payments, in
    [start, end) and the affiliate's currency."""
    with connection.cursor() as cur:
        cur.execute(_REVENUE_SQL, {
            "affiliate": affiliate.pk, "currency": affiliate.currency, "start": start, "end": end,
            "gaming": [str(k) for k in GAMING_KINDS], "house": str(AccountKind.HOUSE),
            "bonus": list(settings.AFFILIATE_BONUS_COST_KINDS),
        })
        ggr, bonus = cur.fetchone()
    fees = FeeCharge.objects.filter(
        player__affiliate_attribution__affiliate=affiliate, currency=affiliate.currency,
        bearer=FeeBearer.OPERATOR, ledger_transaction__created_at__gte=start,
        ledger_transaction__created_at__lt=end,
    ).aggregate(t=Sum("amount"))["t"] or 0
    return RevenueFigures(gross_gaming_revenue=int(ggr), bonus_cost=int(bonus), fee_cost=int(fees))


def affiliate_payable(*, affiliate: Affiliate) -> int:
    """Commission posted by the closes, less payouts."""
    closes = AffiliateClose.objects.filter(affiliate=affiliate).aggregate(t=Sum("commission"))["t"] or 0
    paid = AffiliatePayout.objects.filter(affiliate=affiliate).aggregate(t=Sum("amount"))["t"] or 0
    return closes - paid


def attribution_get(*, player) -> Attribution | None:
    return Attribution.objects.select_related("affiliate").filter(player=player).first()


STATEMENT_COLUMNS = ["type", "month", "date", "currency", "gross_gaming_revenue", "bonus_cost",
                     "fee_cost", "net_gaming_revenue", "carry_in", "revshare", "carry_out",
                     "cpa_count", "cpa_total", "clawback_total", "amount",
                     "ledger_transaction_id", "reason"]


def affiliate_statement_rows(*, affiliate: Affiliate) -> list[dict]:
    """The affiliate's statement: one row per close and per payout, oldest first, amounts in
    minor units (the CSV formats them)."""
    rows = [
        {"type": "close", "month": f"{c.month:%Y-%m}", "date": c.created_at.date().isoformat(),
         "currency": c.currency, "gross_gaming_revenue": c.gross_gaming_revenue,
         "bonus_cost": c.bonus_cost, "fee_cost": c.fee_cost,
         "net_gaming_revenue": c.net_gaming_revenue, "carry_in": c.carry_in,
         "revshare": c.revshare, "carry_out": c.carry_out, "cpa_count": c.cpa_count,
         "cpa_total": c.cpa_total, "clawback_total": c.clawback_total, "amount": c.commission,
         "ledger_transaction_id": c.ledger_transaction_id or "", "reason": "",
         "_at": c.created_at}
        for c in AffiliateClose.objects.filter(affiliate=affiliate).order_by("month")
    ]
    rows += [
        {"type": "payout", "month": "", "date": p.created_at.date().isoformat(),
         "currency": p.currency, "amount": -p.amount,
         "ledger_transaction_id": p.ledger_transaction_id, "reason": p.reason, "_at": p.created_at}
        for p in AffiliatePayout.objects.filter(affiliate=affiliate)
    ]
    rows.sort(key=lambda r: r["_at"])
    return rows
