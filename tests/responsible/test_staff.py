"""Staff: compliance imposes limits and exclusions in the admin with a reason; the player page
shows them; every change is in the audit export."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backoffice.audit import AuditFilters, audit_rows
from backoffice.roles import roles_sync
from responsible import services
from responsible.models import Exclusion, Limit
from tests.backoffice.conftest import verified_client
from tests.factories import make_staff
from users.roles import COMPLIANCE, SUPPORT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roles(db):
    roles_sync()


def test_compliance_imposes_a_limit_and_an_exclusion_in_the_admin(player):
    officer = make_staff(COMPLIANCE)
    client = verified_client(officer)
    page = client.get("/admin/responsible/limit/")
    assert page.status_code == 200 and b"impose/" in page.content
    r = client.post("/admin/responsible/limit/impose/", {
        "player": player.pk, "kind": "deposit", "period": "week", "currency": "USD",
        "value": "25.00", "reason": "affordability review"})
    assert r.status_code == 302, r.content[:2000]
    limit = Limit.objects.get()
    assert (limit.source, limit.amount, limit.set_by, limit.reason) == (
        "operator", 2_500, officer, "affordability review")
    r = client.post("/admin/responsible/limit/impose/", {
        "player": player.pk, "kind": "deposit", "period": "week", "currency": "USD",
        "value": "25.00", "reason": ""})
    assert r.status_code == 200 and Limit.objects.count() == 1  # the reason is required

    r = client.post("/admin/responsible/exclusion/impose/", {
        "player": player.pk, "kind": "timeout", "days": "7", "reason": "asked by phone"})
    assert r.status_code == 302
    assert Exclusion.objects.get().created_by == officer

    # The player page lists them.
    services.limit_set(player=player, kind="loss", period="day", currency="USD", amount=500,
                       now=timezone.now())
    services.limit_set(player=player, kind="loss", period="day", currency="USD", amount=900,
                       now=timezone.now())
    page = client.get(f"/admin/players/{player.pk}/").content.decode()
    assert "Time-out (operator" in page or "Timeout (operator" in page
    assert "Operator week deposit limit 25.00 USD<" in page
    assert "Player day loss limit 5.00 USD; increase to 9.00 USD pending" in page
    assert "affordability review" in page  # the timeline, with the reason


def test_support_cannot_impose(player):
    client = verified_client(make_staff(SUPPORT))
    r = client.post("/admin/responsible/exclusion/impose/", {
        "player": player.pk, "kind": "timeout", "days": "7", "reason": "x"})
    assert r.status_code == 403
    assert Exclusion.objects.count() == 0


def test_every_change_is_in_the_audit_export(player):
    officer = make_staff(COMPLIANCE)
    now = timezone.now()
    limit = services.limit_set(player=player, kind="loss", period="day", currency="USD",
                               amount=1_000, now=now).limit
    services.limit_set(player=player, kind="loss", period="day", currency="USD", amount=5_000,
                       now=now)
    services.limit_impose(player_id=player.pk, kind="wager", period="month", currency="USD",
                          amount=9_000, actor=officer, reason="source of funds", now=now)
    services.timeout_start(player=player, days=1, now=now)
    rows = [r for r in audit_rows(AuditFilters(player_id=player.pk))
            if r["source"].startswith("responsible.")]
    reasons = [(r["source"], r["reason"], r["actor"]) for r in rows]
    assert ("responsible.limit", "limit set by player", player.username) in reasons
    assert any(s == "responsible.limit" and reason.startswith("increase requested")
               for s, reason, _ in reasons)
    assert ("responsible.limit", "imposed by compliance: source of funds",
            officer.username) in reasons
    assert ("responsible.exclusion", "time-out taken by player", player.username) in reasons
    assert {r["object_id"] for r in rows if r["source"] == "responsible.limit"} >= {limit.pk}
