"""Fee schedules: the rounding rule, the quote the player sees before confirming, and the fee
posted to the fees account in the ledger transaction of the deposit, withdrawal or refund."""

import uuid

import pytest
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import balances, make_player, make_staff
from tests.reconciliation.helpers import deposit
from tests.wallet.conftest import run_parallel, signed_post
from wallet.fees import fee_compute
from wallet.ledger import system_account
from wallet.models import (
    AccountKind,
    Deposit,
    Entry,
    FeeCharge,
    FeeSchedule,
    Transaction,
    Withdrawal,
)
from wallet.refunds import refund_request, refund_send
from wallet.tasks import withdrawal_send_task


def test_rounding_rule_percentage_down_then_fixed_minimum_maximum():
    # 1.5% of 10.01 = 15.015 -> 15, + 30 fixed = 45
    assert fee_compute(amount=1_001, percent_bp=150, fixed=30, minimum=0, maximum=None) == 45
    assert fee_compute(amount=100, percent_bp=150, fixed=0, minimum=50, maximum=None) == 50
    assert fee_compute(amount=10**9, percent_bp=150, fixed=0, minimum=0, maximum=2_000) == 2_000
    assert fee_compute(amount=66, percent_bp=150, fixed=0, minimum=0, maximum=None) == 0


pytestmark_db = pytest.mark.django_db(transaction=True)


def _client(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


def _schedule(operation, bearer="player", **kw):
    return FeeSchedule.objects.create(provider="sandbox", operation=operation, currency="USD",
                                      percent_bp=kw.get("bp", 200), fixed=kw.get("fixed", 50),
                                      minimum=kw.get("minimum", 0), maximum=kw.get("maximum"),
                                      bearer=bearer)


def _deposit(player, amount="100.00"):
    return _client(player).post("/api/v1/payments/deposits/",
                                {"amount": amount, "currency": "USD", "provider": "sandbox"},
                                format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)


def _succeed(did, amount="100.00", ptid=None):
    return signed_post(APIClient(), {"event": "deposit.succeeded", "provider_transaction_id":
                                     ptid or f"p-{did}", "reference": did, "amount": amount,
                                     "currency": "USD"})


def _fees_total(currency="USD"):
    acct = system_account(AccountKind.FEES, currency)
    return Entry.objects.filter(account=acct).aggregate(t=Sum("amount"))["t"] or 0


def _house_total(currency="USD"):
    acct = system_account(AccountKind.HOUSE, currency)
    return Entry.objects.filter(account=acct).aggregate(t=Sum("amount"))["t"] or 0


@pytestmark_db
def test_player_sees_the_fee_before_confirming_and_the_credit_carries_it():
    _schedule("deposit")  # 2% + 0.50, player bears
    player = make_player()
    quote = _client(player).get("/api/v1/payments/fees/quote/",
                                {"operation": "deposit", "amount": "100.00", "currency": "USD"})
    assert quote.status_code == 200
    assert quote.json() == {"operation": "deposit", "provider": "sandbox", "currency": "USD",
                            "amount": "100.00", "fee": "2.50", "fee_bearer": "player",
                            "net_amount": "97.50"}
    resp = _deposit(player)
    assert resp.status_code == 201
    assert (resp.json()["fee"], resp.json()["fee_bearer"], resp.json()["net_amount"]) == (
        "2.50", "player", "97.50")
    did = resp.json()["id"]
    # Parallel duplicate callbacks: one credit, one fee.
    results = run_parallel(6, lambda i: _succeed(did))
    assert [r.status_code for r in results] == [200] * 6
    assert balances(player)["cash"] == 9_750
    assert _fees_total() == 250
    charge = FeeCharge.objects.get()
    txn = Deposit.objects.get(pk=did).ledger_transaction
    assert (charge.ledger_transaction_id, charge.amount, charge.bearer) == (txn.pk, 250, "player")
    # One ledger transaction carries the credit and its fee.
    assert sorted(e.amount for e in txn.entries.all()) == [-10_000, 250, 9_750]


@pytestmark_db
def test_operator_borne_withdrawal_fee_comes_from_the_house(no_withdrawal_gates, settings):
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = ""
    _schedule("withdrawal", bearer="operator", bp=0, fixed=120)
    player = make_player(funds={"USD": 50_000})
    resp = _client(player).post("/api/v1/payments/withdrawals/",
                                {"amount": "100.00", "currency": "USD", "destination": "iban:X"},
                                format="json", HTTP_IDEMPOTENCY_KEY="w1")
    assert resp.status_code == 201
    assert (resp.json()["fee"], resp.json()["fee_bearer"], resp.json()["net_amount"]) == (
        "1.20", "operator", "100.00")
    wid = resp.json()["id"]
    assert balances(player) == {"cash": 40_000, "reserved": 10_000, "bonus": 0}
    _client(make_staff("payments")).post(f"/api/v1/backoffice/withdrawals/{wid}/approve/")
    withdrawal_send_task(wid)
    paid = signed_post(APIClient(), {"event": "withdrawal.paid", "provider_transaction_id": "wp1",
                                     "reference": wid, "amount": "100.00", "currency": "USD"})
    assert paid.status_code == 200, paid.content
    assert balances(player) == {"cash": 40_000, "reserved": 0, "bonus": 0}
    assert (_fees_total(), _house_total()) == (120, -120)
    assert FeeCharge.objects.get().reference == f"withdrawal:{wid}"


@pytestmark_db
def test_player_borne_withdrawal_fee_is_kept_from_what_is_sent(no_withdrawal_gates, settings):
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = ""
    _schedule("withdrawal", bp=100, fixed=0, minimum=200)  # 1%, at least 2.00
    player = make_player(funds={"USD": 50_000})
    wid = _client(player).post("/api/v1/payments/withdrawals/",
                               {"amount": "50.00", "currency": "USD", "destination": "iban:X"},
                               format="json", HTTP_IDEMPOTENCY_KEY="w1").json()["id"]
    assert Withdrawal.objects.get(pk=wid).fee_amount == 200
    _client(make_staff("payments")).post(f"/api/v1/backoffice/withdrawals/{wid}/approve/")
    withdrawal_send_task(wid)
    signed_post(APIClient(), {"event": "withdrawal.paid", "provider_transaction_id": "wp1",
                              "reference": wid, "amount": "50.00", "currency": "USD"})
    txn = Transaction.objects.get(kind="withdrawal_paid")
    clearing = system_account(AccountKind.PROVIDER_CLEARING, "USD")
    assert txn.entries.get(account=clearing).amount == 4_800
    assert _fees_total() == 200
    assert balances(player) == {"cash": 45_000, "reserved": 0, "bonus": 0}


@pytestmark_db
def test_refund_fee_is_posted_with_the_refund(settings):
    settings.REFUND_SECOND_APPROVAL_THRESHOLD = ""
    _schedule("refund", bp=0, fixed=100)
    player = make_player()
    dep = deposit(player, 10_000)
    refund = refund_request(deposit_id=dep.pk, amount=5_000, reason="r",
                            actor=make_staff("payments"), now=timezone.now())
    assert (refund.fee_amount, refund.fee_bearer) == (100, "player")
    refund_send(refund_id=refund.pk, now=timezone.now())
    done = signed_post(APIClient(), {"event": "refund.completed", "provider_transaction_id": "rf",
                                     "reference": str(refund.pk), "amount": "50.00",
                                     "currency": "USD"})
    assert done.status_code == 200, done.content
    assert _fees_total() == 100
    assert FeeCharge.objects.get().reference == f"refund:{refund.pk}"
    assert balances(player)["cash"] == 5_000


@pytestmark_db
def test_amount_not_covering_a_player_fee_is_refused_and_writes_nothing(no_withdrawal_gates):
    _schedule("withdrawal", bp=0, fixed=500)
    _schedule("deposit", bp=0, fixed=500)
    player = make_player(funds={"USD": 50_000})
    before = (Withdrawal.objects.count(), Deposit.objects.count(), Transaction.objects.count())
    w = _client(player).post("/api/v1/payments/withdrawals/",
                             {"amount": "5.00", "currency": "USD", "destination": "iban:X"},
                             format="json", HTTP_IDEMPOTENCY_KEY="w1")
    d = _deposit(player, "4.99")
    q = _client(player).get("/api/v1/payments/fees/quote/",
                            {"operation": "deposit", "amount": "5.00", "currency": "USD"})
    assert [(r.status_code, r.json()["code"]) for r in (w, d, q)] == [(422, "amount_below_fee")] * 3
    bad = _client(player).get("/api/v1/payments/fees/quote/",
                              {"operation": "deposit", "amount": "1.234", "currency": "USD"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_amount"
    assert (Withdrawal.objects.count(), Deposit.objects.count(), Transaction.objects.count()) == before
    assert balances(player) == {"cash": 50_000, "reserved": 0, "bonus": 0}


@pytestmark_db
def test_a_schedule_change_does_not_touch_a_quoted_deposit():
    schedule = _schedule("deposit")
    player = make_player()
    did = _deposit(player).json()["id"]
    schedule.fixed = 5_000
    schedule.save()
    _succeed(did)
    assert balances(player)["cash"] == 9_750 and _fees_total() == 250
