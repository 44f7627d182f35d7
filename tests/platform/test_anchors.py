"""Issue 12: validation patterns anchor with \\Z, so a trailing newline is refused ("5.00\\n"
matched `^...$` before). Through the API against PostgreSQL; nothing is written."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from rest_framework.test import APIClient

from betting.errors import InvalidOdds
from betting.models import Bet
from betting.odds import parse_odds
from common.models import IdempotencyRecord
from tests.betting.conftest import make_market, selections_of
from tests.factories import balances, make_player
from wallet.models import Deposit, ProviderCallback, Withdrawal
from wallet.providers import sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_withdrawal_gates(settings):
    settings.COMPLIANCE_GATES = []


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.usefixtures("no_withdrawal_gates")
@pytest.mark.parametrize("amount", ["5.00\n", "5\n", "0.50\n"])
def test_an_amount_with_a_trailing_newline_is_invalid_amount(amount):
    player = make_player(funds={"USD": 10_000})
    resp = _client(player).post("/api/v1/payments/withdrawals/",
                                {"amount": amount, "currency": "USD", "destination": "iban:DE00"},
                                format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert (resp.status_code, resp.json()["code"]) == (400, "invalid_amount")
    assert Withdrawal.objects.count() == 0
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


def test_odds_with_a_trailing_newline_are_invalid_odds():
    with pytest.raises(InvalidOdds):
        parse_odds("3.200\n")
    player = make_player(funds={"USD": 10_000})
    selection = selections_of(make_market())[0]
    resp = _client(player).post("/api/v1/betting/bets/", {
        "selection_id": selection.pk, "odds": "3.200\n", "stake": "1.00", "currency": "USD",
        "odds_change": "none"}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert (resp.status_code, resp.json()["code"]) == (400, "invalid_odds")
    assert Bet.objects.count() == 0


def test_an_idempotency_key_with_a_trailing_newline_is_refused():
    player = make_player()
    resp = _client(player).post("/api/v1/payments/deposits/",
                                {"amount": "5.00", "currency": "USD", "provider": "sandbox"},
                                format="json", HTTP_IDEMPOTENCY_KEY="key-1\n")
    assert (resp.status_code, resp.json()["code"]) == (400, "idempotency_key_required")
    assert IdempotencyRecord.objects.count() == 0 and Deposit.objects.count() == 0


def test_a_webhook_signature_header_with_a_trailing_newline_is_refused():
    player = make_player()
    deposit = _client(player).post("/api/v1/payments/deposits/",
                                   {"amount": "5.00", "currency": "USD", "provider": "sandbox"},
                                   format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex).json()
    raw = json.dumps({"event": "deposit.succeeded", "provider_transaction_id": "psp-nl",
                      "reference": deposit["id"], "amount": "5.00", "currency": "USD"}).encode()
    header = sign(secret=b"sandbox-test-secret", timestamp=int(time.time()), body=raw) + "\n"
    resp = APIClient().post("/api/v1/payments/webhooks/sandbox/", data=raw,
                            content_type="application/json", HTTP_X_SIGNATURE=header)
    assert (resp.status_code, resp.json()["code"]) == (401, "invalid_signature")
    assert ProviderCallback.objects.count() == 0
    assert balances(player)["cash"] == 0


def test_a_request_id_with_a_trailing_newline_is_replaced():
    resp = APIClient().get("/healthz", HTTP_X_REQUEST_ID="abc\n")
    assert resp["X-Request-ID"] != "abc\n" and len(resp["X-Request-ID"]) == 32

