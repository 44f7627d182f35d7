"""Withdrawal buttons in the admin call the wallet services: a large withdrawal needs two
different approvers."""

import pytest

from tests.factories import balances, make_player, make_staff
from wallet.models import Withdrawal

from .conftest import verified_client
from .test_roles import _open_withdrawal

pytestmark = pytest.mark.django_db


def test_large_withdrawal_needs_a_second_different_approver(settings, django_capture_on_commit_callbacks):
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = "5.00"
    player = make_player(funds={"USD": 1_000})
    w = _open_withdrawal(player, amount=600)
    first_user = make_staff("payments")
    first, second = verified_client(first_user), verified_client(make_staff("payments"))
    url = f"/admin/wallet/withdrawal/{w.pk}/transition/approve/"

    assert first.post(url, {"reason": "docs ok"}).status_code == 302
    w = Withdrawal.objects.get(pk=w.pk)
    assert w.status == "requested" and w.decided_by == first_user  # one approval is not enough

    resp = first.post(url, {"reason": "approving again"}, follow=True)
    assert b"refused" in resp.content
    w = Withdrawal.objects.get(pk=w.pk)
    assert w.status == "requested" and w.second_approver is None

    with django_capture_on_commit_callbacks(execute=False):
        assert second.post(url, {"reason": "second look ok"}).status_code == 302
    w = Withdrawal.objects.get(pk=w.pk)
    assert w.status == "approved" and w.second_approver is not None
    assert balances(player) == {"cash": 400, "reserved": 600, "bonus": 0}
    reasons = list(w.history.order_by("history_date").values_list("history_change_reason", flat=True))
    assert reasons[-2:] == ["first approval: docs ok", "second look ok"]
