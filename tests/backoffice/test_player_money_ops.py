"""The player page shows the player's refunds, fees and affiliate; the audit export carries
refund transitions and their ledger postings."""

import pytest
from django.db import transaction
from django.utils import timezone

from affiliates.models import Affiliate
from backoffice.audit import AuditFilters, audit_rows
from tests.factories import make_staff
from tests.reconciliation.helpers import deposit
from users.services import user_register
from wallet.models import FeeSchedule, Refund
from wallet.refunds import refund_completed, refund_request, refund_send

pytestmark = pytest.mark.django_db


def _player_with_everything(settings):
    settings.REFUND_SECOND_APPROVAL_THRESHOLD = ""
    aff = Affiliate.objects.create(name="Sunny Media", code="sunny", revshare_bp=100)
    FeeSchedule.objects.create(provider="sandbox", operation="deposit", currency="USD",
                               fixed=125, bearer="player")
    player = user_register(username="dora", email="dora@x.test",
                           password="correct-horse-battery-staple", affiliate_code="sunny")
    dep = deposit(player, 10_000)
    now = timezone.now()
    refund = refund_request(deposit_id=dep.pk, amount=3_000, reason="asked", now=now,
                            actor=make_staff("payments"))
    refund_send(refund_id=refund.pk, now=now)
    with transaction.atomic():
        refund_completed(Refund.objects.select_for_update().get(pk=refund.pk),
                         provider_transaction_id="rf-1", now=now)
    return player, aff, refund


def test_player_page_shows_refunds_fees_and_the_affiliate(settings, staff_client):
    player, aff, refund = _player_with_everything(settings)
    _, client = staff_client("support_agent")
    html = client.get(f"/admin/players/{player.pk}/").content.decode()
    assert 'id="refunds-fees-affiliate"' in html
    assert f"/admin/wallet/refund/{refund.pk}/change/" in html and "30.00 USD" in html
    assert "completed" in html
    assert "1.25 USD (1, player bears)" in html
    assert "Sunny Media" in html and f"/admin/affiliates/affiliate/{aff.pk}/change/" in html


def test_audit_export_has_the_refund_transitions_and_postings(settings):
    player, _, refund = _player_with_everything(settings)
    rows = list(audit_rows(AuditFilters(player_id=player.pk)))
    refund_rows = [r for r in rows if r.get("source") == "wallet.refund"]
    assert [r["action"] for r in refund_rows] == [
        "created", "requested->approved", "approved->sent", "sent->completed"]
    postings = {r["action"] for r in rows if r.get("type") == "ledger_entry"}
    assert {"refund_reserve", "refund_paid", "deposit"} <= postings
