"""Selectors that name one row raise the app's NotFound when it is missing or not the
player's (never return None for the caller to check), and the API answers 404 not_found."""

import uuid

import pytest
from rest_framework.test import APIClient

from common.errors import NotFound
from kyc import selectors as kyc_selectors
from kyc.errors import KYCApplicationNotFound
from tests.factories import make_player
from wallet import selectors
from wallet.errors import DepositNotFound, RefundNotFound, WithdrawalNotFound
from wallet.models import Deposit, Withdrawal

pytestmark = pytest.mark.django_db


def test_a_row_of_another_player_or_none_at_all_raises_not_found():
    alice, bob = make_player(), make_player()
    dep = Deposit.objects.create(player=alice, amount=100, currency="USD", provider="sandbox")
    wd = Withdrawal.objects.create(player=alice, amount=100, currency="USD", destination="x")

    assert selectors.deposit_get(player=alice, deposit_id=dep.pk) == dep
    assert selectors.withdrawal_get(player=alice, withdrawal_id=wd.pk) == wd
    with pytest.raises(DepositNotFound):
        selectors.deposit_get(player=bob, deposit_id=dep.pk)
    with pytest.raises(WithdrawalNotFound):
        selectors.withdrawal_get(player=bob, withdrawal_id=wd.pk)
    with pytest.raises(DepositNotFound):
        selectors.deposit_for_refund(deposit_id=uuid.uuid4())
    with pytest.raises(RefundNotFound):
        selectors.refund_get(refund_id=uuid.uuid4())
    with pytest.raises(KYCApplicationNotFound):
        kyc_selectors.kyc_application_get(application_id=uuid.uuid4(), player=bob)
    assert issubclass(KYCApplicationNotFound, NotFound)


@pytest.mark.parametrize("path", ["deposits", "withdrawals"])
def test_the_api_answers_404_not_found_for_another_players_row(path):
    alice, bob = make_player(), make_player()
    model = Deposit if path == "deposits" else Withdrawal
    extra = {"provider": "sandbox"} if path == "deposits" else {"destination": "x"}
    row = model.objects.create(player=alice, amount=100, currency="USD", **extra)
    api = APIClient()
    api.force_authenticate(bob)

    res = api.get(f"/api/v1/payments/{path}/{row.pk}/")

    assert (res.status_code, res.json()["code"]) == (404, "not_found")
