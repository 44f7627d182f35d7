"""Reconciliation of refunds, fees and affiliate commissions: a healthy ledger has no
findings; a seeded corruption of each invariant is reported."""

import pytest
from django.db import transaction
from django.utils import timezone

from events.models import OutboxEvent
from reconciliation.checks import run_checks
from reconciliation.models import DiscrepancyKind as K
from tests.factories import make_player, make_staff
from wallet.ledger import Posting, ledger_post, system_account
from wallet.models import AccountKind, FeeCharge, FeeSchedule, Refund
from wallet.refunds import refund_completed, refund_request, refund_send

from .helpers import deposit

pytestmark = pytest.mark.django_db


def _kinds(findings):
    return sorted(f.kind for f in findings)


def _completed_refund(settings):
    settings.REFUND_SECOND_APPROVAL_THRESHOLD = ""
    player = make_player()
    dep = deposit(player, 10_000)
    now = timezone.now()
    refund = refund_request(deposit_id=dep.pk, amount=4_000, reason="r", actor=make_staff("payments"),
                            now=now)
    refund_send(refund_id=refund.pk, now=now)
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        refund_completed(refund, provider_transaction_id="p1", now=now)
    OutboxEvent.objects.update(sent_at=now)
    return dep, refund


def test_refunds_healthy_then_a_refund_edited_past_its_deposit_is_reported(settings):
    dep, refund = _completed_refund(settings)
    assert run_checks(now=timezone.now()) == []

    Refund.objects.filter(pk=refund.pk).update(amount=12_000)  # behind the services' back

    findings = run_checks(now=timezone.now())
    assert _kinds(findings) == [K.REFUND_EXCEEDS_DEPOSIT, K.REFUND_LEDGER_MISMATCH]
    exceeds = next(f for f in findings if f.kind == K.REFUND_EXCEEDS_DEPOSIT)
    assert (exceeds.expected, exceeds.actual, exceeds.subject) == (10_000, 12_000, f"deposit {dep.pk}")
    mismatch = next(f for f in findings if f.kind == K.REFUND_LEDGER_MISMATCH)
    assert (mismatch.expected, mismatch.actual) == (12_000, 4_000)


def test_an_open_refund_counts_in_reserved(settings):
    settings.REFUND_SECOND_APPROVAL_THRESHOLD = "1.00"
    player = make_player()
    dep = deposit(player, 10_000)
    refund = refund_request(deposit_id=dep.pk, amount=4_000, reason="r",
                            actor=make_staff("payments"), now=timezone.now())
    OutboxEvent.objects.update(sent_at=timezone.now())
    assert run_checks(now=timezone.now()) == []
    Refund.objects.filter(pk=refund.pk).update(status="rejected")  # no release posted
    assert _kinds(run_checks(now=timezone.now())) == [K.RESERVED_MISMATCH]


def test_fees_healthy_then_an_orphan_fee_posting_and_an_unposted_charge_are_reported():
    schedule = FeeSchedule.objects.create(provider="sandbox", operation="deposit", currency="USD",
                                          percent_bp=100, bearer="operator")
    player = make_player()
    deposit(player, 10_000)
    OutboxEvent.objects.update(sent_at=timezone.now())
    assert FeeCharge.objects.get().amount == 100
    assert run_checks(now=timezone.now()) == []

    with transaction.atomic():
        # A fee posted behind the schedules' back (no charge)...
        orphan = ledger_post(kind="adjustment", reference="manual-fee", postings=[
            Posting(system_account(AccountKind.HOUSE, "USD"), -70),
            Posting(system_account(AccountKind.FEES, "USD"), 70)])
        # ...and a charge whose transaction never touched the fees account.
        plain = ledger_post(kind="adjustment", reference="plain", postings=[
            Posting(system_account(AccountKind.HOUSE, "USD"), -1),
            Posting(system_account(AccountKind.ADJUSTMENTS, "USD"), 1)])
        FeeCharge.objects.create(ledger_transaction_id=plain.pk, schedule=schedule,
                                 operation="withdrawal", reference="withdrawal:none",
                                 player=player, currency="USD", amount=55, bearer="operator")
    findings = sorted(run_checks(now=timezone.now()), key=lambda f: f.detail["transaction_id"])
    assert _kinds(findings) == [K.FEE_LEDGER_MISMATCH] * 2
    assert [(f.detail["transaction_id"], f.expected, f.actual) for f in findings] == [
        (orphan.pk, None, 70), (plain.pk, 55, None)]
