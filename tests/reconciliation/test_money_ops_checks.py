"""Reconciliation of refunds, fees and affiliate commissions: a healthy ledger has no
findings; a seeded corruption of each invariant is reported."""

import pytest
from django.db import transaction
from django.utils import timezone

from events.models import OutboxEvent
from reconciliation.checks import run_checks
from reconciliation.models import DiscrepancyKind as K
from tests.factories import make_player, make_staff
from wallet.models import Refund
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
