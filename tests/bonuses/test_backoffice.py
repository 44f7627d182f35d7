"""Bonuses in the backoffice: the player page, the audit export, the admin's campaign grant
and bonus forfeit buttons (each calling the service, with a reason)."""

import pytest
from django.db import transaction

from backoffice.audit import AuditFilters, audit_rows
from bonuses.models import PlayerBonus
from tests.backoffice.conftest import verified_client
from tests.factories import balances, make_player, make_staff
from users.roles import PAYMENTS, SUPPORT

from .conftest import grant, make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roles(db):
    from backoffice.roles import roles_sync

    roles_sync()


def test_the_player_page_shows_the_bonuses():
    player = make_player()
    grant(player, make_campaign(name="Spring reload", fixed_amount=1_250, wagering_multiple=4))
    html = verified_client(make_staff(SUPPORT)).get(f"/admin/players/{player.pk}/").content.decode()
    section = html[html.index('id="bonuses"'):]
    assert "Spring reload" in section and "12.50 USD" in section and "0.00 USD / 50.00 USD (0%)" in section
    assert "granted" in section


def test_the_audit_export_carries_bonus_states_and_postings():
    player = make_player()
    pb = grant(player, make_campaign(fixed_amount=800), reason="loyalty")
    with transaction.atomic():
        rows = list(audit_rows(AuditFilters(player_id=player.pk)))
    states = [r for r in rows if r["source"] == "bonuses.playerbonus"]
    assert [(str(r["object_id"]), r["status_to"], r["reason"]) for r in states] == [
        (str(pb.pk), "granted", "loyalty")]
    entries = [r for r in rows if r["type"] == "ledger_entry" and r["action"] == "bonus_grant"]
    assert [(r["account"], r["amount"]) for r in entries] == [("bonus", 800)]


def test_admin_grant_and_forfeit_buttons_call_the_services():
    staff = make_staff(PAYMENTS)
    client = verified_client(staff)
    campaign = make_campaign(fixed_amount=600)
    player = make_player()
    assert client.get("/admin/bonuses/campaign/").status_code == 200
    resp = client.post(f"/admin/bonuses/campaign/{campaign.pk}/transition/grant/",
                       {"player": player.pk, "amount": "", "reason": "admin grant"})
    assert resp.status_code == 302
    pb = PlayerBonus.objects.get(player=player)
    assert (pb.amount, pb.granted_by_id, balances(player)["bonus"]) == (600, staff.pk, 600)
    resp = client.post(f"/admin/bonuses/playerbonus/{pb.pk}/transition/forfeit/",
                       {"reason": "duplicate account"})
    assert resp.status_code == 302
    pb = PlayerBonus.objects.get(pk=pb.pk)
    assert (pb.status, pb.closed_reason, balances(player)["bonus"]) == (
        "forfeited", "duplicate account", 0)


def test_support_cannot_forfeit_in_the_admin():
    player = make_player()
    pb = grant(player, make_campaign(fixed_amount=600))
    client = verified_client(make_staff(SUPPORT))
    resp = client.post(f"/admin/bonuses/playerbonus/{pb.pk}/transition/forfeit/",
                       {"reason": "nope"})
    assert resp.status_code == 403
    assert PlayerBonus.objects.get(pk=pb.pk).status == "granted" and balances(player)["bonus"] == 600
