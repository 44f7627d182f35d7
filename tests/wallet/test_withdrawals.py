"""Seed 000 #1: the double withdrawal. Parallel requests, real PostgreSQL, real threads."""

import uuid

import pytest
from rest_framework.test import APIClient

from events.models import OutboxEvent
from tests.factories import balances, make_player, make_staff
from tests.wallet.conftest import run_parallel, signed_post
from wallet.models import Entry, Transaction, Withdrawal
from wallet.tasks import withdrawal_send_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_withdrawal_gates")]

N = 8


def _client(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


def _withdraw(client, amount="500.00", key=None, currency="USD"):
    return client.post("/api/v1/payments/withdrawals/",
                       {"amount": amount, "currency": currency, "destination": "iban:DE00"},
                       format="json", HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex)


def test_parallel_full_balance_withdrawals_with_different_keys_only_one_succeeds():
    player = make_player(funds={"USD": 50_000})
    responses = run_parallel(N, lambda i: _withdraw(_client(player)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [422] * (N - 1)
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"insufficient_funds"}
    assert Withdrawal.objects.filter(player=player).count() == 1
    assert balances(player) == {"cash": 0, "reserved": 50_000, "bonus": 0}


def test_parallel_withdrawals_with_same_key_create_one_withdrawal_and_retry_replays():
    player = make_player(funds={"USD": 50_000})
    key = "double-click-" + uuid.uuid4().hex
    responses = run_parallel(N, lambda i: _withdraw(_client(player), key=key))
    ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1
    others = [r for r in responses if r.status_code != 201]
    assert all(r.status_code == 409 and r.json()["code"] == "idempotency_key_in_progress"
               or r.headers.get("Idempotent-Replayed") == "true" for r in others)
    assert Withdrawal.objects.filter(player=player).count() == 1
    assert balances(player) == {"cash": 0, "reserved": 50_000, "bonus": 0}

    retry = _withdraw(_client(player), key=key)
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] in ids
    assert Withdrawal.objects.filter(player=player).count() == 1


def test_same_key_different_body_is_refused_and_writes_nothing():
    player = make_player(funds={"USD": 50_000})
    client = _client(player)
    assert _withdraw(client, "100.00", key="k1").status_code == 201
    resp = _withdraw(client, "200.00", key="k1")
    assert resp.status_code == 422 and resp.json()["code"] == "idempotency_key_reused"
    assert Withdrawal.objects.filter(player=player).count() == 1
    assert balances(player)["cash"] == 40_000


def test_missing_idempotency_key_is_400_and_writes_nothing():
    player = make_player(funds={"USD": 50_000})
    resp = _client(player).post("/api/v1/payments/withdrawals/",
                                {"amount": "1.00", "currency": "USD", "destination": "x"},
                                format="json")
    assert resp.status_code == 400 and resp.json()["code"] == "idempotency_key_required"
    assert Withdrawal.objects.count() == 0


def test_failure_between_steps_leaves_no_trace(monkeypatch):
    player = make_player(funds={"USD": 50_000})
    txns_before, events_before = Transaction.objects.count(), OutboxEvent.objects.count()

    def boom(**kwargs):
        raise RuntimeError("crash after the ledger write, before the event")

    monkeypatch.setattr("wallet.services.emit", boom)
    client = _client(player)
    client.raise_request_exception = False
    resp = _withdraw(client, key="crashy")
    assert resp.status_code == 500
    assert resp.json() == {"code": "server_error",
                           "detail": "An internal error occurred. It has been logged."}
    assert Withdrawal.objects.count() == 0
    assert Transaction.objects.count() == txns_before
    assert OutboxEvent.objects.count() == events_before
    assert balances(player) == {"cash": 50_000, "reserved": 0, "bonus": 0}
    # Nothing was stored for the 5xx: the retry runs for real once the fault is gone.
    monkeypatch.undo()
    retry = _withdraw(client, key="crashy")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


def test_full_lifecycle_approve_send_paid_by_webhook(settings):
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = ""
    player = make_player(funds={"USD": 50_000})
    payments = make_staff("payments")
    wid = _withdraw(_client(player), "120.00").json()["id"]
    resp = _client(payments).post(f"/api/v1/backoffice/withdrawals/{wid}/approve/",
                                  {"reason": "checked"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "approved"
    withdrawal_send_task(wid)  # what the on_commit task does in the worker
    withdrawal_send_task(wid)  # safe twice
    assert Withdrawal.objects.get(pk=wid).status == "processing"
    resp = signed_post(APIClient(), {"event": "withdrawal.paid", "provider_transaction_id": "pay-1",
                                     "reference": wid, "amount": "120.00", "currency": "USD"})
    assert resp.status_code == 200, resp.content
    w = Withdrawal.objects.get(pk=wid)
    assert w.status == "paid"
    assert balances(player) == {"cash": 38_000, "reserved": 0, "bonus": 0}
    assert [h.history_change_reason for h in w.history.order_by("history_id")][:2] == [
        "withdrawal requested", "checked"]


def test_reject_and_provider_failure_return_reserved_funds(settings):
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = ""
    player = make_player(funds={"USD": 50_000})
    payments = make_staff("payments")
    w1 = _withdraw(_client(player), "100.00").json()["id"]
    w2 = _withdraw(_client(player), "200.00").json()["id"]
    no_reason = _client(payments).post(f"/api/v1/backoffice/withdrawals/{w1}/reject/", {},
                                       format="json")
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    assert _client(payments).post(f"/api/v1/backoffice/withdrawals/{w1}/reject/",
                                  {"reason": "source of funds"}, format="json").status_code == 200
    _client(payments).post(f"/api/v1/backoffice/withdrawals/{w2}/approve/", {}, format="json")
    withdrawal_send_task(w2)
    resp = signed_post(APIClient(), {"event": "withdrawal.failed", "provider_transaction_id": "f-1",
                                     "reference": w2, "amount": "200.00", "currency": "USD"})
    assert resp.status_code == 200
    assert balances(player) == {"cash": 50_000, "reserved": 0, "bonus": 0}
    again = _client(payments).post(f"/api/v1/backoffice/withdrawals/{w1}/reject/",
                                   {"reason": "twice"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"
    assert balances(player) == {"cash": 50_000, "reserved": 0, "bonus": 0}


def test_large_withdrawal_needs_two_different_approvers(settings):
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = "100.00"
    player = make_player(funds={"USD": 50_000})
    first, second = make_staff("payments"), make_staff("payments")
    wid = _withdraw(_client(player), "150.00").json()["id"]
    assert _client(first).post(f"/api/v1/backoffice/withdrawals/{wid}/approve/").json()[
        "status"] == "requested"
    again = _client(first).post(f"/api/v1/backoffice/withdrawals/{wid}/approve/")
    assert again.status_code == 403 and again.json()["code"] == "self_approval_refused"
    resp = _client(second).post(f"/api/v1/backoffice/withdrawals/{wid}/approve/")
    assert resp.json()["status"] == "approved"


def test_only_payments_role_decides_withdrawals():
    player = make_player(funds={"USD": 50_000})
    wid = _withdraw(_client(player), "1.00").json()["id"]
    for user in (player, make_staff("support_agent"), make_staff("trader")):
        resp = _client(user).post(f"/api/v1/backoffice/withdrawals/{wid}/approve/")
        assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
    assert Withdrawal.objects.get(pk=wid).status == "requested"


def test_player_cancel_is_a_setting(settings):
    player = make_player(funds={"USD": 50_000})
    wid = _withdraw(_client(player), "10.00").json()["id"]
    settings.WITHDRAWAL_PLAYER_CANCEL_ALLOWED = False
    resp = _client(player).post(f"/api/v1/payments/withdrawals/{wid}/cancel/", HTTP_IDEMPOTENCY_KEY="c1")
    assert resp.status_code == 403 and resp.json()["code"] == "cancel_not_allowed"
    assert balances(player)["reserved"] == 1_000
    settings.WITHDRAWAL_PLAYER_CANCEL_ALLOWED = True
    resp = _client(player).post(f"/api/v1/payments/withdrawals/{wid}/cancel/", HTTP_IDEMPOTENCY_KEY="c2")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert balances(player) == {"cash": 50_000, "reserved": 0, "bonus": 0}


def test_players_cannot_see_or_touch_each_others_money(settings):
    settings.WITHDRAWAL_PLAYER_CANCEL_ALLOWED = True
    alice, mallory = make_player(funds={"USD": 5_000}), make_player(funds={"USD": 5_000})
    wid = _withdraw(_client(alice), "10.00").json()["id"]
    did = _client(alice).post("/api/v1/payments/deposits/", {"amount": "5.00", "currency": "USD",
                              "provider": "sandbox"}, format="json",
                              HTTP_IDEMPOTENCY_KEY="d").json()["id"]
    m = _client(mallory)
    assert m.get(f"/api/v1/payments/withdrawals/{wid}/").status_code == 404
    assert m.get(f"/api/v1/payments/deposits/{did}/").status_code == 404
    resp = m.post(f"/api/v1/payments/withdrawals/{wid}/cancel/", HTTP_IDEMPOTENCY_KEY="x")
    assert resp.status_code == 404
    assert Withdrawal.objects.get(pk=wid).status == "requested"
    wallets = m.get("/api/v1/wallets/").json()
    assert wallets == [{"currency": "USD", "available": "50.00", "reserved": "0.00", "bonus": "0.00"}]
    history = m.get("/api/v1/wallets/transactions/").json()["results"]
    own_accounts = set(Entry.objects.filter(account__owner=mallory).values_list("id", flat=True))
    assert {row["id"] for row in history} == own_accounts
