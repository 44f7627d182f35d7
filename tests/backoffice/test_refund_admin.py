"""Refunds in the admin: the deposit's Refund button (amount + reason) and the refund's
second-approval and reject buttons call wallet.refunds; nobody approves their own request."""

import pytest

from tests.factories import balances, make_player, make_staff
from tests.reconciliation.helpers import deposit
from wallet.models import Refund

from .conftest import verified_client

pytestmark = pytest.mark.django_db


def test_refund_from_the_deposit_page_then_second_approval(settings, django_capture_on_commit_callbacks):
    settings.REFUND_SECOND_APPROVAL_THRESHOLD = "50.00"
    player = make_player()
    dep = deposit(player, 20_000)
    requester_user = make_staff("payments")
    requester, other = verified_client(requester_user), verified_client(make_staff("payments"))

    page = requester.get(f"/admin/wallet/deposit/{dep.pk}/change/")
    assert b"Refund to the original method" in page.content
    url = f"/admin/wallet/deposit/{dep.pk}/transition/refund/"
    bad = requester.post(url, {"amount": "12.345", "reason": "x"})
    assert bad.status_code == 200 and Refund.objects.count() == 0  # form error, nothing written
    too_much = requester.post(url, {"amount": "200.01", "reason": "x"}, follow=True)
    assert b"refund_exceeds_deposit" in too_much.content and Refund.objects.count() == 0

    assert requester.post(url, {"amount": "60.00", "reason": "card expired"}).status_code == 302
    refund = Refund.objects.get()
    assert (refund.status, refund.amount, refund.requested_by) == ("requested", 6_000, requester_user)
    assert balances(player) == {"cash": 14_000, "reserved": 6_000, "bonus": 0}

    approve = f"/admin/wallet/refund/{refund.pk}/transition/approve/"
    own = requester.post(approve, {"reason": "mine"}, follow=True)
    assert b"self_approval_refused" in own.content
    assert Refund.objects.get().status == "requested"
    with django_capture_on_commit_callbacks(execute=False):
        assert other.post(approve, {"reason": "looks right"}).status_code == 302
    assert Refund.objects.get().status == "approved"


def test_support_agents_see_no_refund_button():
    player = make_player()
    dep = deposit(player, 1_000)
    client = verified_client(make_staff("support_agent"))
    page = client.get(f"/admin/wallet/deposit/{dep.pk}/change/")
    assert page.status_code == 200 and b"Refund to the original method" not in page.content
    assert client.post(f"/admin/wallet/deposit/{dep.pk}/transition/refund/",
                       {"amount": "1.00", "reason": "x"}).status_code == 403
    assert Refund.objects.count() == 0
