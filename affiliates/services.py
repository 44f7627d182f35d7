"""Affiliate attribution, the monthly commission close and payouts.

Attribution happens once, inside the registration transaction (hook
USER_REGISTRATION_ATTRIBUTION_HOOKS); nothing updates it afterwards (append-only table).

The close of (affiliate, month) locks the affiliate row, so closes of one affiliate
serialize; a close that exists is returned as it is (a re-run posts nothing: the close row
is unique per affiliate and month, and its ledger transaction has the dedupe key
`affiliate:<id>:close:<YYYY-MM>`). It computes, from the ledger of the referred players:

- revenue share: NGR = (stakes - wins) - bonuses converted - operator-borne fees; the
  base is NGR plus the previous close's carry (<= 0); a positive base pays
  `base * revshare_bp // 10000` (rounded down) and carries nothing; a negative base pays
  nothing and is carried into the next month;
- CPA: `cpa_amount` once per referred player whose qualifying deposit (the earliest
  succeeded deposit in the affiliate's currency, credited before the month ended, whose
  amount less its completed refunds is at least `cpa_threshold`) exists; paid once ever
  (CpaPayment is unique per player);
- clawback: a CPA already paid whose qualifying deposit has since been refunded below the
  threshold is taken back once (CpaClawback unique per payment), in the next close.

The commission (revshare + CPA - clawbacks) is posted house -> affiliate payable (negative:
the other way). A payout moves payable -> provider clearing, never more than is payable.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from django.db import connection
from django.db.models import Q, Sum

from common.db import service_atomic
from common.errors import NotFound
from events.services import emit
from wallet.ledger import Posting, ledger_post, system_account
from wallet.models import AccountKind, Deposit, DepositStatus, Refund, RefundStatus, TransactionKind

from .errors import AttributionImmutable, InvalidPayout, MonthNotOver, UnknownAffiliateCode
from .models import (
    Affiliate,
    AffiliateClose,
    AffiliatePayout,
    Attribution,
    CpaClawback,
    CpaPayment,
)
from .selectors import affiliate_payable, revenue_figures


def affiliate_attribute(*, player, affiliate_code: str, now: datetime) -> Attribution:
    """Attribute a player to the affiliate of `affiliate_code`, inside the caller's
    (registration) transaction. Raises UnknownAffiliateCode (400), AttributionImmutable (409)."""
    if not connection.in_atomic_block:
        raise RuntimeError("affiliate_attribute runs inside the registration transaction")
    affiliate = Affiliate.objects.filter(code=affiliate_code.strip().lower(), active=True).first()
    if affiliate is None:
        raise UnknownAffiliateCode()
    if Attribution.objects.filter(player=player).exists():
        raise AttributionImmutable()
    attribution = Attribution.objects.create(player=player, affiliate=affiliate)
    emit(topic="affiliate.attributed", aggregate_type="attribution", aggregate_id=player.pk,
         payload={"player_id": player.pk, "affiliate_id": affiliate.pk,
                  "occurred_at": now.isoformat()})
    return attribution


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def previous_month(now: datetime) -> date:
    first = date(now.year, now.month, 1)
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def _refunded(deposit_id, *, before: datetime) -> int:
    return (Refund.objects.filter(deposit_id=deposit_id, status=RefundStatus.COMPLETED,
                                  updated_at__lt=before)
            .aggregate(t=Sum("amount"))["t"] or 0)


def _qualifying_deposit(affiliate: Affiliate, player_id: int, end: datetime) -> Deposit | None:
    deposits = (Deposit.objects.filter(player_id=player_id, currency=affiliate.currency,
                                       status=DepositStatus.SUCCEEDED,
                                       ledger_transaction__created_at__lt=end,
                                       amount__gte=affiliate.cpa_threshold)
                .order_by("ledger_transaction__created_at"))
    for dep in deposits[:20]:
        if dep.amount - _refunded(dep.pk, before=end) >= affiliate.cpa_threshold:
            return dep
    return None


def affiliate_close_month(*, affiliate_id: int, month: date, now: datetime) -> AffiliateClose:
    """Close one affiliate's month (or return the existing close). Raises NotFound,
    MonthNotOver (409)."""
    month = month.replace(day=1)
    start, end = month_bounds(month)
    if now < end:
        raise MonthNotOver()
    with service_atomic():
        try:
            affiliate = Affiliate.objects.select_for_update().get(pk=affiliate_id)
        except Affiliate.DoesNotExist:
            raise NotFound("No such affiliate.") from None
        existing = AffiliateClose.objects.filter(affiliate=affiliate, month=month).first()
        if existing is not None:
            return existing
        previous = (AffiliateClose.objects.filter(affiliate=affiliate, month__lt=month)
                    .order_by("-month").first())
        carry_in = previous.carry_out if previous else 0
        figures = revenue_figures(affiliate=affiliate, start=start, end=end)
        base = figures.net_gaming_revenue + carry_in
        revshare, carry_out = (base * affiliate.revshare_bp // 10_000, 0) if base > 0 else (0, base)

        cpa: list[tuple[int, Deposit]] = []
        clawbacks: list[CpaPayment] = []
        if affiliate.cpa_amount:
            unpaid = (Attribution.objects.filter(affiliate=affiliate)
                      .exclude(player_id__in=CpaPayment.objects.values("player_id"))
                      .values_list("player_id", flat=True))
            for player_id in unpaid:
                dep = _qualifying_deposit(affiliate, player_id, end)
                if dep is not None:
                    cpa.append((player_id, dep))
        for payment in (CpaPayment.objects.filter(affiliate=affiliate, clawback__isnull=True)
                        .select_related("deposit")):
            if payment.deposit.amount - _refunded(payment.deposit_id, before=end) < affiliate.cpa_threshold:
                clawbacks.append(payment)
        cpa_total = affiliate.cpa_amount * len(cpa)
        clawback_total = sum(p.amount for p in clawbacks)
        commission = revshare + cpa_total - clawback_total

        txn = None
        if commission:
            txn = ledger_post(
                kind=TransactionKind.AFFILIATE_COMMISSION,
                dedupe_key=f"affiliate:{affiliate.pk}:close:{month:%Y-%m}",
                reference=f"affiliate:{affiliate.pk}",
                metadata={"month": f"{month:%Y-%m}", "revshare": revshare, "cpa": cpa_total,
                          "clawback": clawback_total},
                postings=[Posting(system_account(AccountKind.HOUSE, affiliate.currency), -commission),
                          Posting(system_account(AccountKind.AFFILIATE_PAYABLE, affiliate.currency),
                                  commission)],
            )
        close = AffiliateClose.objects.create(
            affiliate=affiliate, month=month, currency=affiliate.currency,
            gross_gaming_revenue=figures.gross_gaming_revenue, bonus_cost=figures.bonus_cost,
            fee_cost=figures.fee_cost, net_gaming_revenue=figures.net_gaming_revenue,
            carry_in=carry_in, carry_out=carry_out, revshare=revshare, cpa_count=len(cpa),
            cpa_total=cpa_total, clawback_total=clawback_total, commission=commission,
            ledger_transaction_id=txn.pk if txn else None,
        )
        CpaPayment.objects.bulk_create([
            CpaPayment(player_id=player_id, affiliate=affiliate, close=close, deposit=dep,
                       amount=affiliate.cpa_amount) for player_id, dep in cpa])
        CpaClawback.objects.bulk_create([
            CpaClawback(payment=p, close=close, amount=p.amount) for p in clawbacks])
        emit(topic="affiliate.closed", aggregate_type="affiliate", aggregate_id=affiliate.pk,
             payload={"affiliate_id": affiliate.pk, "month": f"{month:%Y-%m}",
                      "currency": affiliate.currency, "commission": commission,
                      "occurred_at": now.isoformat()})
    return close


def affiliates_close_month(*, month: date, now: datetime) -> list[AffiliateClose]:
    """Close `month` for every affiliate (active, or with referred players). Safe to re-run."""
    ids = (Affiliate.objects.filter(Q(active=True) | Q(attributions__isnull=False))
           .distinct().order_by("pk").values_list("pk", flat=True))
    return [affiliate_close_month(affiliate_id=pk, month=month, now=now) for pk in ids]


def affiliate_payout(*, affiliate_id: int, amount: int, reason: str, actor,
                     now: datetime) -> AffiliatePayout:
    """Pay an affiliate out of what is payable. Raises NotFound, InvalidPayout (422)."""
    with service_atomic():
        try:
            affiliate = Affiliate.objects.select_for_update().get(pk=affiliate_id)
        except Affiliate.DoesNotExist:
            raise NotFound("No such affiliate.") from None
        payable = affiliate_payable(affiliate=affiliate)
        if amount <= 0 or amount > payable:
            raise InvalidPayout(extra={"payable": payable})
        txn = ledger_post(
            kind=TransactionKind.AFFILIATE_PAYOUT, dedupe_key=f"affiliate:{affiliate.pk}:payout:{uuid.uuid4()}",
            reference=f"affiliate:{affiliate.pk}", created_by_id=actor.pk, reason=reason,
            postings=[Posting(system_account(AccountKind.AFFILIATE_PAYABLE, affiliate.currency), -amount),
                      Posting(system_account(AccountKind.PROVIDER_CLEARING, affiliate.currency), amount)],
        )
        payout = AffiliatePayout.objects.create(affiliate=affiliate, currency=affiliate.currency,
                                                amount=amount, reason=reason, created_by=actor,
                                                ledger_transaction_id=txn.pk)
        emit(topic="affiliate.paid", aggregate_type="affiliate", aggregate_id=affiliate.pk,
             payload={"affiliate_id": affiliate.pk, "currency": affiliate.currency,
                      "amount": amount, "occurred_at": now.isoformat()})
    return payout
