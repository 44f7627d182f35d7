"""Operator refunds of a deposit: lifecycle, four eyes, webhooks (duplicate, out of order),
and never more than the deposit, even under parallel requests (real threads, PostgreSQL)."""

import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import OutboxEvent
from tests.factories import balances, make_player, make_staff
from tests.reconciliation.helpers import deposit, settled_bet
from tests.wallet.conftest import run_parallel, signed_post
from wallet.models import Refund, Transaction
from wallet.services import deposit_create
from wallet.tasks import refund_send_pending_task, refund_send_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_withdrawal_gates")]


def _client(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


def _refund(staff, deposit_id, amount="10.00", *, currency="USD", reason="customer asked",
            key=None):
    return _client(staff).post("/api/v1/backoffice/refunds/",
                               {"deposit_id": str(deposit_id), "amount": amount,
                                "currency": currency, "reason": reason},
                               format="json", HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex)


def _callback(refund_id, *, event="refund.completed", amount="10.00", ptid=None):
    return signed_post(APIClient(), {"event": event, "provider_transaction_id": ptid or f"rf-{refund_id}",
                                     "reference": str(refund_id), "amount": amount,
                                     "currency": "USD"})


@pytest.fixture
def funded(settings):
    settings.REFUND_SECOND_APPROVAL_THRESHOLD = "100.00"
    player = make_player()
    dep = deposit(player, 50_000)  # 500.00 USD, through the real webhook
    return player, dep


def _counts():
    return (Refund.objects.count(), Transaction.objects.count(), OutboxEvent.objects.count())


def test_small_refund_is_approved_by_policy_sent_and_completed_by_the_webhook(funded):
    player, dep = funded
    officer = make_staff("payments")
    resp = _refund(officer, dep.pk, "40.00")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["status"] == "approved" and body["approved_by"] is None
    assert balances(player) == {"cash": 46_000, "reserved": 4_000, "bonus": 0}

    refund_send_task(body["id"])  # what the on_commit task does in the worker
    refund_send_task(body["id"])  # safe twice
    assert Refund.objects.get(pk=body["id"]).status == "sent"

    done = _callback(body["id"], amount="40.00")
    assert done.status_code == 200 and done.json()["status"] == "completed", done.content
    assert balances(player) == {"cash": 46_000, "reserved": 0, "bonus": 0}
    paid = Transaction.objects.get(kind="refund_paid", reference=f"refund:{body['id']}")
    assert sorted(e.amount for e in paid.entries.all()) == [-4_000, 4_000]
    history = [h.status for h in Refund.objects.get(pk=body["id"]).history.order_by("history_id")]
    assert history == ["requested", "approved", "sent", "completed"]


def test_large_refund_needs_a_second_staff_member_never_the_requester(funded):
    player, dep = funded
    requester, approver = make_staff("payments"), make_staff("payments")
    rid = _refund(requester, dep.pk, "150.00").json()["id"]
    assert Refund.objects.get(pk=rid).status == "requested"
    assert balances(player)["reserved"] == 15_000

    own = _client(requester).post(f"/api/v1/backoffice/refunds/{rid}/approve/", {}, format="json")
    assert own.status_code == 403 and own.json()["code"] == "self_approval_refused"
    assert Refund.objects.get(pk=rid).status == "requested"

    ok = _client(approver).post(f"/api/v1/backoffice/refunds/{rid}/approve/",
                                {"reason": "checked the card"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert ok.json()["approved_by"] == approver.pk
    twice = _client(approver).post(f"/api/v1/backoffice/refunds/{rid}/approve/", {}, format="json")
    assert twice.status_code == 409 and twice.json()["code"] == "invalid_state"


def test_reject_and_provider_failure_return_the_held_funds(funded):
    player, dep = funded
    requester, other = make_staff("payments"), make_staff("payments")
    big = _refund(requester, dep.pk, "200.00").json()["id"]
    small = _refund(requester, dep.pk, "30.00").json()["id"]
    assert balances(player) == {"cash": 27_000, "reserved": 23_000, "bonus": 0}
    no_reason = _client(other).post(f"/api/v1/backoffice/refunds/{big}/reject/", {}, format="json")
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    assert _client(other).post(f"/api/v1/backoffice/refunds/{big}/reject/",
                               {"reason": "duplicate ask"}, format="json").status_code == 200
    refund_send_task(small)
    failed = _callback(small, event="refund.failed", amount="30.00")
    assert failed.status_code == 200 and failed.json()["status"] == "failed"
    assert balances(player) == {"cash": 50_000, "reserved": 0, "bonus": 0}
    # Failed and rejected refunds no longer count against the deposit: all of it is refundable.
    assert _refund(requester, dep.pk, "99.00").status_code == 201


def test_duplicate_and_out_of_order_callbacks(funded):
    player, dep = funded
    officer = make_staff("payments")
    rid = _refund(officer, dep.pk, "10.00").json()["id"]
    # Too early: the refund is approved, not yet sent. Refused, and the retry is judged again.
    early = _callback(rid, ptid="psp-9")
    assert early.status_code == 409 and early.json()["code"] == "not_ready"
    assert balances(player)["reserved"] == 1_000
    refund_send_task(rid)
    responses = run_parallel(6, lambda i: _callback(rid, ptid="psp-9"))
    assert [r.status_code for r in responses] == [200] * 6
    assert sum(1 for r in responses if r.json().get("duplicate")) == 5
    # A failure arriving after the completion changes nothing.
    late_fail = _callback(rid, event="refund.failed", ptid="psp-10")
    assert late_fail.status_code == 409 and late_fail.json()["code"] == "invalid_state"
    assert Transaction.objects.filter(kind="refund_paid").count() == 1
    assert Transaction.objects.filter(kind="refund_release").count() == 0
    assert balances(player) == {"cash": 49_000, "reserved": 0, "bonus": 0}
    wrong_amount = _callback(rid, amount="11.00", ptid="psp-11")
    assert wrong_amount.status_code == 422 and wrong_amount.json()["code"] == "amount_mismatch"


def test_parallel_refunds_never_exceed_the_deposit(funded):
    player, dep = funded
    officers = [make_staff("payments") for _ in range(8)]
    # 8 x 90.00 against a 500.00 deposit: exactly five fit.
    responses = run_parallel(8, lambda i: _refund(officers[i], dep.pk, "90.00"))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 5 + [422] * 3, [r.content for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"refund_exceeds_deposit"}
    assert Refund.objects.filter(deposit=dep).count() == 5
    assert balances(player) == {"cash": 5_000, "reserved": 45_000, "bonus": 0}


def test_parallel_same_key_creates_one_refund(funded):
    player, dep = funded
    officer = make_staff("payments")
    responses = run_parallel(6, lambda i: _refund(officer, dep.pk, "20.00", key="same"))
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    assert Refund.objects.count() == 1
    assert balances(player)["reserved"] == 2_000


@pytest.mark.parametrize("case", ["too_much", "pending_deposit", "no_reason", "wrong_currency",
                                  "unknown_deposit", "spent", "not_payments", "zero"])
def test_refusals_are_clear_and_write_nothing(funded, case):
    player, dep = funded
    officer = make_staff("payments")
    target, amount, kwargs, staff = dep.pk, "10.00", {}, officer
    if case == "too_much":
        amount = "500.01"
    elif case == "pending_deposit":
        target = deposit_create(player=player, amount=1_000, currency="USD", provider="sandbox",
                                now=timezone.now()).pk
    elif case == "no_reason":
        kwargs = {"reason": " "}
    elif case == "wrong_currency":
        kwargs = {"currency": "EUR"}
    elif case == "unknown_deposit":
        target = uuid.uuid4()
    elif case == "spent":
        settled_bet(player, 49_500, 0)
    elif case == "not_payments":
        staff = make_staff("support_agent")
    elif case == "zero":
        amount = "0.00"
    before, money = _counts(), balances(player)
    resp = _refund(staff, target, amount, **kwargs)
    expected = {"too_much": (422, "refund_exceeds_deposit"),
                "pending_deposit": (409, "deposit_not_refundable"),
                "no_reason": (400, None), "wrong_currency": (400, "currency_mismatch"),
                "unknown_deposit": (404, "not_found"), "spent": (422, "insufficient_funds"),
                "not_payments": (403, "permission_denied"), "zero": (400, None)}[case]
    assert resp.status_code == expected[0], resp.content
    if expected[1]:
        assert resp.json()["code"] == expected[1]
    assert _counts() == before and balances(player) == money


def test_lost_send_task_is_redriven(funded, settings):
    player, dep = funded
    rid = _refund(make_staff("payments"), dep.pk, "5.00").json()["id"]
    Refund.objects.filter(pk=rid).update(updated_at="2000-01-01T00:00:00Z")
    assert refund_send_pending_task() == 1
    assert Refund.objects.get(pk=rid).status == "sent"
