"""The KYC/AML compliance gate the wallet, sportsbook and game sessions run (common.gates)."""

import pytest
from django.db import transaction
from django.utils import timezone

from common.gates import Operation, gates_check
from kyc.documents import document_decode
from kyc.errors import AccountRestricted, KYCRequired
from kyc.models import KYCApplication
from kyc.services import aml_status_change, kyc_application_approve, kyc_application_submit
from tests.factories import balances, make_player, make_staff
from tests.kyc.conftest import good_documents
from users.roles import COMPLIANCE
from wallet.models import Withdrawal

pytestmark = pytest.mark.django_db


def _verify(player):
    from kyc.api.views import KYCApplicationSubmitApi

    serializer = KYCApplicationSubmitApi.InputSerializer(data=good_documents())
    assert serializer.is_valid(), serializer.errors
    app, _ = kyc_application_submit(player=player, documents=[document_decode(d) for d in serializer.validated_data.values()],
                                    now=timezone.now())
    kyc_application_approve(application_id=app.pk, actor=make_staff(COMPLIANCE), now=timezone.now())


def _block(player, status="blocked"):
    aml_status_change(player_id=player.pk, status=status, reason="test", now=timezone.now(),
                      actor=make_staff(COMPLIANCE))


def run_gates(operation, *, player, amount=1, currency="USD"):
    with transaction.atomic():
        return gates_check(operation=operation, player_id=player.pk, amount=amount,
                           currency=currency)


W, BET, ROUND = Operation.WITHDRAWAL_REQUEST, Operation.BET_PLACE, Operation.ROUND_STAKE


def test_gates_are_registered(settings):
    assert "kyc.gates.compliance_gate" in settings.COMPLIANCE_GATES


def test_default_threshold_zero_requires_kyc_for_any_withdrawal(settings):
    settings.KYC_WITHDRAWAL_THRESHOLD = "0"
    player = make_player()
    with pytest.raises(KYCRequired) as exc:
        run_gates(W, player=player, amount=1, currency="USD")
    assert exc.value.code == "kyc_required" and exc.value.status_code == 422
    _verify(player)
    run_gates(W, player=player, amount=10**9, currency="USD")


@pytest.mark.parametrize("threshold,currency,amount,needs_kyc", [
    ("100", "USD", 10_000, False),      # exactly the threshold: allowed
    ("100", "USD", 10_001, True),       # one cent above
    ("100", "EUR", 9_500, False),       # 100 USD = 95.00 EUR
    ("100", "EUR", 9_501, True),
    ("100", "BTC", 100_000, False),     # 100 USD = 0.001 BTC, not 100 BTC (issue 11)
    ("100", "BTC", 100_001, True),
    ("100", "BTC", 50 * 10**8, True),   # 50 BTC went through without KYC before
    ("250", "USDT", 250_000_001, True),
])
def test_threshold_in_the_withdrawals_currency(settings, threshold, currency, amount, needs_kyc):
    settings.BASE_CURRENCY = "USD"
    settings.CURRENCY_RATES = "EUR:0.95,USDT:1,BTC:0.00001"
    settings.KYC_WITHDRAWAL_THRESHOLD = threshold
    player = make_player()
    if needs_kyc:
        with pytest.raises(KYCRequired):
            run_gates(W, player=player, amount=amount, currency=currency)
    else:
        run_gates(W, player=player, amount=amount, currency=currency)


def test_pending_application_is_not_enough(settings):
    settings.KYC_WITHDRAWAL_THRESHOLD = "0"
    player = make_player()
    from kyc.api.views import KYCApplicationSubmitApi

    serializer = KYCApplicationSubmitApi.InputSerializer(data=good_documents())
    serializer.is_valid(raise_exception=True)
    kyc_application_submit(player=player, documents=[document_decode(d) for d in serializer.validated_data.values()],
                           now=timezone.now())
    assert KYCApplication.objects.filter(player=player).count() == 1
    with pytest.raises(KYCRequired):
        run_gates(W, player=player, amount=1, currency="USD")


def test_blocked_player_cannot_withdraw_bet_or_play_even_when_verified(settings):
    settings.KYC_WITHDRAWAL_THRESHOLD = "0"
    player = make_player()
    _verify(player)
    _block(player)
    for setting, ctx in [
        (W, {"amount": 1, "currency": "USD"}),
        (Operation.WITHDRAWAL_APPROVE, {"amount": 1, "currency": "USD"}),
        (Operation.DEPOSIT_CREATE, {"amount": 1, "currency": "USD"}),
        (BET, {}),
        (ROUND, {}),
    ]:
        with pytest.raises(AccountRestricted) as exc:
            run_gates(setting, player=player, **ctx)
        assert exc.value.code == "account_restricted" and exc.value.status_code == 403


def test_review_status_restricts_nothing_and_clear_lifts_the_block():
    player = make_player()
    _block(player, "review")
    run_gates(BET, player=player)
    _block(player, "blocked")
    with pytest.raises(AccountRestricted):
        run_gates(ROUND, player=player)
    _block(player, "clear")
    run_gates(ROUND, player=player)
    run_gates(BET, player=player)


def _withdraw(client, amount="10.00", key="w-1"):
    return client.post("/api/v1/payments/withdrawals/",
                       {"amount": amount, "currency": "USD", "destination": "iban:DE00"},
                       format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_withdrawal_api_refuses_unverified_and_blocked_players(settings, make_api):
    settings.KYC_WITHDRAWAL_THRESHOLD = "0"
    player = make_player(funds={"USD": 10_000})
    client = make_api(player)

    res = _withdraw(client, key="w-1")
    assert res.status_code == 422 and res.json()["code"] == "kyc_required"
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}
    assert Withdrawal.objects.filter(player=player).count() == 0

    _verify(player)
    res = _withdraw(client, key="w-2")
    assert res.status_code == 201, res.json()
    assert balances(player) == {"cash": 9_000, "reserved": 1_000, "bonus": 0}

    _block(player)
    res = _withdraw(client, key="w-3")
    assert res.status_code == 403 and res.json()["code"] == "account_restricted"
    assert balances(player) == {"cash": 9_000, "reserved": 1_000, "bonus": 0}
    assert Withdrawal.objects.filter(player=player).count() == 1


def test_withdrawal_api_below_threshold_needs_no_kyc(settings, make_api):
    settings.KYC_WITHDRAWAL_THRESHOLD = "50"
    player = make_player(funds={"USD": 10_000})
    client = make_api(player)
    assert _withdraw(client, amount="50.00", key="a").status_code == 201
    res = _withdraw(client, amount="50.01", key="b")
    assert res.status_code == 422 and res.json()["code"] == "kyc_required"
    assert balances(player) == {"cash": 5_000, "reserved": 5_000, "bonus": 0}


def test_demo_seed_verifies_bob_not_alice_and_is_idempotent(settings):
    from io import StringIO

    from kyc import demo as kyc_demo
    from users import demo as users_demo
    from users.models import User

    settings.KYC_WITHDRAWAL_THRESHOLD = "0"
    users_demo.seed(stdout=StringIO())
    assert kyc_demo.seed(stdout=StringIO())
    assert kyc_demo.seed(stdout=StringIO())
    bob, alice = User.objects.get(username="bob"), User.objects.get(username="alice")
    assert KYCApplication.objects.filter(player=bob).count() == 1
    assert KYCApplication.objects.get(player=bob).status == "approved"
    assert not KYCApplication.objects.filter(player=alice).exists()
    run_gates(W, player=bob, amount=100, currency="USD")
    with pytest.raises(KYCRequired):
        run_gates(W, player=alice, amount=100, currency="USD")
