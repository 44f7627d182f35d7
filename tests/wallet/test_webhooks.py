"""Seed 001: duplicate provider callbacks. Signed, recorded, applied exactly once."""

import json
import time
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories import balances, make_player
from tests.wallet.conftest import run_parallel, signed_post
from wallet.models import Deposit, ProviderCallback, Transaction

pytestmark = pytest.mark.django_db(transaction=True)


def _deposit(player, amount="25.00", currency="USD"):
    client = APIClient()
    client.force_authenticate(player)
    resp = client.post("/api/v1/payments/deposits/",
                       {"amount": amount, "currency": currency, "provider": "sandbox"},
                       format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert resp.status_code == 201 and resp.json()["status"] == "pending"
    return resp.json()["id"]


def _payload(deposit_id, *, amount="25.00", currency="USD", ptid="psp-1", event="deposit.succeeded"):
    return {"event": event, "provider_transaction_id": ptid, "reference": deposit_id,
            "amount": amount, "currency": currency}


def test_parallel_identical_webhooks_credit_once():
    player = make_player()
    did = _deposit(player)
    payload = _payload(did)
    responses = run_parallel(8, lambda i: signed_post(APIClient(), payload))
    assert [r.status_code for r in responses] == [200] * 8
    assert sum(1 for r in responses if r.json().get("duplicate")) == 7
    assert {r.json()["outcome"] for r in responses} == {"applied"}
    assert balances(player)["cash"] == 2_500
    assert Transaction.objects.filter(kind="deposit", reference=f"deposit:{did}").count() == 1
    assert ProviderCallback.objects.count() == 1
    assert Deposit.objects.get(pk=did).status == "succeeded"


def test_a_later_duplicate_gets_the_original_outcome():
    player = make_player()
    did = _deposit(player)
    first = signed_post(APIClient(), _payload(did))
    again = signed_post(APIClient(), _payload(did))
    assert first.status_code == again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert balances(player)["cash"] == 2_500


@pytest.mark.parametrize("tamper", ["forged", "stale", "future", "body_changed", "unsigned",
                                    "garbage_header"])
def test_bad_signatures_are_401_and_apply_nothing(tamper):
    player = make_player()
    did = _deposit(player)
    api = APIClient()
    payload = _payload(did)
    # A minute past the tolerance on either side: a slow request (a loaded machine) must not
    # carry a timestamp one second past the window back inside it before it is checked.
    outside = settings.WEBHOOK_TOLERANCE_S + 60
    if tamper == "forged":
        resp = signed_post(api, payload, secret="not-the-secret")
    elif tamper == "stale":
        resp = signed_post(api, payload, ts=time.time() - outside)
    elif tamper == "future":
        resp = signed_post(api, payload, ts=time.time() + outside)
    elif tamper == "body_changed":
        from wallet.providers import sign

        header = sign(secret=b"sandbox-test-secret", timestamp=int(time.time()),
                      body=json.dumps(payload).encode())
        payload["amount"] = "2500.00"
        resp = api.post("/api/v1/payments/webhooks/sandbox/", data=json.dumps(payload),
                        content_type="application/json", HTTP_X_SIGNATURE=header)
    elif tamper == "unsigned":
        resp = api.post("/api/v1/payments/webhooks/sandbox/", data=json.dumps(payload),
                        content_type="application/json")
    else:
        resp = api.post("/api/v1/payments/webhooks/sandbox/", data=json.dumps(payload),
                        content_type="application/json", HTTP_X_SIGNATURE="t=abc,v1=zz")
    assert resp.status_code == 401
    assert resp.json()["code"] == "invalid_signature"
    assert ProviderCallback.objects.count() == 0
    assert Deposit.objects.get(pk=did).status == "pending"
    assert balances(player)["cash"] == 0


@pytest.mark.parametrize("field,value,code", [
    ("amount", "250.00", "amount_mismatch"),
    ("amount", "25", "applied"),
    ("currency", "EUR", "currency_mismatch"),
    ("amount", "lots", "amount_mismatch"),
])
def test_amount_or_currency_disagreeing_is_flagged_never_credited(field, value, code):
    player = make_player()
    did = _deposit(player)
    resp = signed_post(APIClient(), _payload(did, **{field: value}))
    if code == "applied":
        assert resp.status_code == 200 and balances(player)["cash"] == 2_500
        return
    assert resp.status_code == 422 and resp.json()["code"] == code
    callback = ProviderCallback.objects.get()
    assert callback.needs_review and callback.outcome == "flagged"
    assert Deposit.objects.get(pk=did).status == "pending"
    assert balances(player)["cash"] == 0


def test_unknown_reference_and_unknown_provider():
    resp = signed_post(APIClient(), _payload(str(uuid.uuid4())))
    assert resp.status_code == 404 and resp.json()["code"] == "unknown_reference"
    assert ProviderCallback.objects.get().needs_review
    resp = signed_post(APIClient(), _payload(str(uuid.uuid4()), ptid="x"), provider="acme")
    assert resp.status_code == 404 and resp.json()["code"] == "unknown_provider"


def test_second_success_with_a_new_provider_id_cannot_credit_twice():
    player = make_player()
    did = _deposit(player)
    signed_post(APIClient(), _payload(did, ptid="a"))
    resp = signed_post(APIClient(), _payload(did, ptid="b"))
    assert resp.status_code == 409 and resp.json()["code"] == "invalid_state"
    assert balances(player)["cash"] == 2_500


def test_failed_deposit_moves_nothing():
    player = make_player()
    did = _deposit(player)
    resp = signed_post(APIClient(), _payload(did, event="deposit.failed"))
    assert resp.status_code == 200 and resp.json()["status"] == "failed"
    assert balances(player)["cash"] == 0
    assert Transaction.objects.filter(reference=f"deposit:{did}").count() == 0


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"event": "deposit.succeeded"}',
                                  b'{"event":"nope","provider_transaction_id":"a","reference":"b",'
                                  b'"amount":"1.00","currency":"USD"}'])
def test_signed_but_malformed_bodies_are_400(body):
    resp = signed_post(APIClient(), None, body=body)
    assert resp.status_code == 400
    assert resp.json()["code"] in {"invalid_payload", "unknown_event"}
    assert ProviderCallback.objects.count() == 0


def test_parallel_callbacks_for_an_unknown_reference_record_one_and_answer_alike():
    payload = _payload(str(uuid.uuid4()), ptid="ghost-1")
    responses = run_parallel(6, lambda i: signed_post(APIClient(), payload))
    assert [r.status_code for r in responses].count(404) == 1
    assert all(r.json()["code"] == "unknown_reference" for r in responses)
    assert sum(1 for r in responses if r.json().get("duplicate")) == 5
    assert ProviderCallback.objects.count() == 1
