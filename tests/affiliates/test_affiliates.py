"""Affiliates: attribution at registration (immutable), the monthly close (revenue share with
negative carry-over, CPA once, clawback on refund), re-runs and parallel closes that post
once, payouts, the statement CSV."""

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from affiliates.admin import statement_csv
from affiliates.errors import AttributionImmutable, InvalidPayout, MonthNotOver
from affiliates.models import Affiliate, AffiliateClose, Attribution, CpaClawback, CpaPayment
from affiliates.services import affiliate_attribute, affiliate_close_month, affiliate_payout
from tests.factories import make_player, make_staff
from tests.reconciliation.helpers import deposit, settled_bet
from tests.wallet.conftest import run_parallel
from users.models import User
from users.services import user_register
from wallet.ledger import system_account
from wallet.models import AccountKind, Entry, FeeSchedule, Refund, Transaction
from wallet.refunds import refund_completed, refund_request, refund_send

pytestmark = pytest.mark.django_db(transaction=True)

# The month before this one; today's activity is dated back into it.
_today = timezone.now()
MONTH = date(_today.year - (_today.month == 1), (_today.month - 2) % 12 + 1, 1)
IN_MONTH = datetime(MONTH.year, MONTH.month, 15, 12, tzinfo=UTC)
NEXT_MONTH = _today
THIS_MONTH = date(_today.year, _today.month, 1)
AFTER_THIS_MONTH = _today + timedelta(days=40)


def _register(code=None, username=None):
    body = {"username": username or f"u{uuid.uuid4().hex[:8]}", "email": f"{uuid.uuid4().hex[:8]}@x.test",
            "password": "correct-horse-battery-staple"}
    if code is not None:
        body["affiliate_code"] = code
    return APIClient().post("/api/v1/auth/register/", body, format="json")


def _affiliate(**kw):
    return Affiliate.objects.create(name=kw.pop("name", "Partner"), code=kw.pop("code", "partner"),
                                    **kw)


def _at(when):
    """Date the ledger transactions written so far back to `when` (the close selects by
    created_at, which the database sets): test set-up only, with the append-only trigger
    lifted for the statement."""
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE wallet_transaction DISABLE TRIGGER wallet_transaction_append_only")
        cur.execute("UPDATE wallet_transaction SET created_at = %s WHERE created_at > %s",
                    [when, when])
        cur.execute("ALTER TABLE wallet_transaction ENABLE TRIGGER wallet_transaction_append_only")


def _payable():
    acct = system_account(AccountKind.AFFILIATE_PAYABLE, "USD")
    return Entry.objects.filter(account=acct).aggregate(t=Sum("amount"))["t"] or 0


def test_registration_captures_the_attribution_and_refuses_an_unknown_code():
    _affiliate(code="sunny")
    ok = _register("SUNNY")
    assert ok.status_code == 201, ok.content
    player = User.objects.get(username=ok.json()["username"])
    assert Attribution.objects.get(player=player).affiliate.code == "sunny"
    users = User.objects.count()
    bad = _register("nobody")
    assert bad.status_code == 400 and bad.json()["code"] == "unknown_affiliate_code"
    assert User.objects.count() == users and Attribution.objects.count() == 1
    plain = _register()
    assert plain.status_code == 201 and Attribution.objects.count() == 1


def test_attribution_is_immutable():
    a, b = _affiliate(code="a"), _affiliate(code="b", name="B")
    player = user_register(username="attributed", email="attributed@x.test",
                           password="correct-horse-battery-staple", affiliate_code="a")
    with pytest.raises(AttributionImmutable), transaction.atomic():
        affiliate_attribute(player=player, affiliate_code="b", now=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():  # the database refuses too
        Attribution.objects.filter(player=player).update(affiliate=b)
    assert Attribution.objects.get(player=player).affiliate == a


def _referred(affiliate, funds=100_000):
    player = user_register(username=f"r{uuid.uuid4().hex[:8]}", email=f"{uuid.uuid4().hex[:8]}@x.test",
                           password="correct-horse-battery-staple", affiliate_code=affiliate.code)
    if funds:
        deposit(player, funds)
    return player


def test_revenue_share_with_negative_carry_over_and_rerun_posts_once():
    aff = _affiliate(revshare_bp=2_500)  # 25% of NGR
    player = _referred(aff)
    settled_bet(player, 10_000, 30_000)  # the player wins 200.00: NGR -200.00
    _at(IN_MONTH)
    first = affiliate_close_month(affiliate_id=aff.pk, month=MONTH, now=NEXT_MONTH)
    assert (first.net_gaming_revenue, first.revshare, first.carry_out, first.commission) == (
        -20_000, 0, -20_000, 0)
    assert first.ledger_transaction_id is None
    settled_bet(player, 50_000, 0)  # December (today): the player loses 500.00
    dec = affiliate_close_month(affiliate_id=aff.pk, month=THIS_MONTH, now=AFTER_THIS_MONTH)
    # 500.00 - 200.00 carried = 300.00 -> 25% = 75.00
    assert (dec.net_gaming_revenue, dec.carry_in, dec.revshare, dec.carry_out) == (
        50_000, -20_000, 7_500, 0)
    again = affiliate_close_month(affiliate_id=aff.pk, month=THIS_MONTH, now=AFTER_THIS_MONTH)
    assert again.pk == dec.pk
    assert AffiliateClose.objects.count() == 2 and _payable() == 7_500
    assert Transaction.objects.filter(kind="affiliate_commission").count() == 1


def test_parallel_closes_post_once():
    aff = _affiliate(revshare_bp=1_000)
    player = _referred(aff)
    settled_bet(player, 10_000, 0)
    _at(IN_MONTH)
    results = run_parallel(6, lambda i: affiliate_close_month(affiliate_id=aff.pk, month=MONTH,
                                                              now=NEXT_MONTH).pk)
    assert len(set(results)) == 1, results
    assert AffiliateClose.objects.count() == 1 and _payable() == 1_000


def test_ngr_subtracts_operator_fees_and_ignores_other_players():
    FeeSchedule.objects.create(provider="sandbox", operation="deposit", currency="USD",
                               fixed=300, bearer="operator")
    aff = _affiliate(revshare_bp=10_000)
    player = _referred(aff, funds=100_000)  # operator pays 3.00 on this deposit
    other = make_player(funds={"USD": 100_000})
    settled_bet(player, 10_000, 0)
    settled_bet(other, 40_000, 0)
    _at(IN_MONTH)
    close = affiliate_close_month(affiliate_id=aff.pk, month=MONTH, now=NEXT_MONTH)
    assert (close.gross_gaming_revenue, close.fee_cost, close.net_gaming_revenue) == (
        10_000, 300, 9_700)


def test_cpa_once_then_clawed_back_when_the_deposit_is_refunded(settings):
    settings.REFUND_SECOND_APPROVAL_THRESHOLD = ""
    aff = _affiliate(cpa_amount=5_000, cpa_threshold=20_000)
    small = _referred(aff, funds=10_000)  # below the threshold: never qualifies
    player = _referred(aff, funds=30_000)
    _at(IN_MONTH)
    nov = affiliate_close_month(affiliate_id=aff.pk, month=MONTH, now=NEXT_MONTH)
    assert (nov.cpa_count, nov.cpa_total, nov.commission) == (1, 5_000, 5_000)
    assert list(CpaPayment.objects.values_list("player_id", flat=True)) == [player.pk]
    # December: 150.00 of the qualifying 300.00 deposit is refunded -> below 200.00.
    dep = player.deposits.get()
    refund = refund_request(deposit_id=dep.pk, amount=15_000, reason="r",
                            actor=make_staff("payments"), now=timezone.now())
    refund_send(refund_id=refund.pk, now=timezone.now())
    with transaction.atomic():
        refund_completed(Refund.objects.select_for_update().get(pk=refund.pk),
                         provider_transaction_id="rf", now=timezone.now())
    dec = affiliate_close_month(affiliate_id=aff.pk, month=THIS_MONTH, now=AFTER_THIS_MONTH)
    assert (dec.cpa_count, dec.clawback_total, dec.commission) == (0, 5_000, -5_000)
    assert CpaClawback.objects.count() == 1 and _payable() == 0
    assert small.pk not in CpaPayment.objects.values_list("player_id", flat=True)


def test_refusals_write_nothing():
    aff = _affiliate(revshare_bp=1_000)
    with pytest.raises(MonthNotOver):
        affiliate_close_month(affiliate_id=aff.pk, month=THIS_MONTH, now=timezone.now())
    with pytest.raises(InvalidPayout):
        affiliate_payout(affiliate_id=aff.pk, amount=1, reason="x", actor=make_staff(), now=timezone.now())
    assert AffiliateClose.objects.count() == 0 and Transaction.objects.filter(
        kind__startswith="affiliate").count() == 0


def test_payout_and_statement_csv():
    aff = _affiliate(revshare_bp=5_000)
    player = _referred(aff)
    settled_bet(player, 20_000, 0)
    _at(IN_MONTH)
    affiliate_close_month(affiliate_id=aff.pk, month=MONTH, now=NEXT_MONTH)
    affiliate_payout(affiliate_id=aff.pk, amount=6_000, reason="bank transfer", actor=make_staff(),
                     now=timezone.now())
    assert _payable() == 4_000
    rows = list(csv.DictReader(io.StringIO(statement_csv([aff]))))
    assert [(r["type"], r["month"], r["net_gaming_revenue"], r["amount"]) for r in rows] == [
        ("close", f"{MONTH:%Y-%m}", "200.00", "100.00"), ("payout", "", "", "-60.00")]


def test_reconcile_reports_a_payable_posted_behind_the_close():
    from events.models import OutboxEvent
    from reconciliation.checks import run_checks
    from reconciliation.models import DiscrepancyKind as K
    from wallet.ledger import Posting, ledger_post

    aff = _affiliate(revshare_bp=5_000)
    player = _referred(aff)
    settled_bet(player, 20_000, 0)
    _at(IN_MONTH)
    affiliate_close_month(affiliate_id=aff.pk, month=MONTH, now=NEXT_MONTH)
    OutboxEvent.objects.update(sent_at=timezone.now())
    assert run_checks(now=timezone.now()) == []
    with transaction.atomic():
        ledger_post(kind="adjustment", reference=f"affiliate:{aff.pk}", postings=[
            Posting(system_account(AccountKind.HOUSE, "USD"), -1_234),
            Posting(system_account(AccountKind.AFFILIATE_PAYABLE, "USD"), 1_234)])
    findings = run_checks(now=timezone.now())
    assert [(f.kind, f.expected, f.actual) for f in findings] == [
        (K.AFFILIATE_PAYABLE_MISMATCH, 10_000, 11_234)]
