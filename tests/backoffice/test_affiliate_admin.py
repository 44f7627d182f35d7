"""Affiliates in the admin: the statement downloads as CSV, a payout is a button that never
pays more than is payable, and the attribution has no edit path."""

import pytest

from affiliates.models import Affiliate, AffiliatePayout, Attribution
from tests.factories import make_player, make_staff

from .conftest import verified_client

pytestmark = pytest.mark.django_db


def test_statement_csv_payout_button_and_read_only_attribution(staff_client):
    aff = Affiliate.objects.create(name="Sunny", code="sunny", revshare_bp=100)
    player = make_player()
    Attribution.objects.create(player=player, affiliate=aff)
    user, client = staff_client("payments")

    resp = client.post("/admin/affiliates/affiliate/",
                       {"action": "download_statement", "_selected_action": [aff.pk]})
    assert resp.status_code == 200 and resp["Content-Type"] == "text/csv"
    assert resp.content.decode().splitlines()[0].startswith("affiliate,code,type,month")

    over = client.post(f"/admin/affiliates/affiliate/{aff.pk}/transition/payout/",
                       {"amount": "1.00", "reason": "early"}, follow=True)
    assert b"invalid_payout" in over.content and AffiliatePayout.objects.count() == 0

    change = client.get(f"/admin/affiliates/attribution/{player.pk}/change/")
    assert change.status_code == 200 and b'name="affiliate"' not in change.content
    support = verified_client(make_staff("support_agent"))
    assert support.post(f"/admin/affiliates/affiliate/{aff.pk}/change/",
                        {"name": "Hijacked"}).status_code == 403
    assert Affiliate.objects.get().name == "Sunny"
