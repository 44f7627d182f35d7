"""Every malformed amount is a 400 with a stable code that writes nothing."""

import pytest

from common.models import IdempotencyRecord
from wallet.models import Deposit, Withdrawal

pytestmark = pytest.mark.django_db

BAD_AMOUNTS = [
    (12.5, "invalid_amount"),
    (10, "invalid_amount"),
    ("0", "invalid_amount"),
    ("0.00", "invalid_amount"),
    ("-5.00", "invalid_amount"),
    ("NaN", "invalid_amount"),
    ("Infinity", "invalid_amount"),
    ("1e3", "invalid_amount"),
    ("1.001", "invalid_amount"),
    ("01.00", "invalid_amount"),
    (" 1.00", "invalid_amount"),
    ("1,00", "invalid_amount"),
    ("", "invalid_amount"),
    (None, "invalid_amount"),
    (True, "invalid_amount"),
    ("99999999999999999.99", "invalid_amount"),
    ("1" * 40, "invalid_amount"),
]


@pytest.mark.parametrize("amount,code", BAD_AMOUNTS)
@pytest.mark.parametrize("endpoint", ["deposits", "withdrawals"])
def test_malformed_amount(player_api, player, amount, code, endpoint):
    body = {"amount": amount, "currency": "USD", "provider": "sandbox", "destination": "x"}
    resp = player_api.post(f"/api/v1/payments/{endpoint}/", body, format="json",
                           HTTP_IDEMPOTENCY_KEY=f"k-{endpoint}")
    assert resp.status_code == 400, resp.content
    assert resp.json()["code"] == code
    assert "amount" in resp.json()["errors"]
    assert Deposit.objects.count() == Withdrawal.objects.count() == 0


@pytest.mark.parametrize("currency", ["XXX", "usd", "", 5, None])
def test_unknown_currency(player_api, currency):
    resp = player_api.post("/api/v1/payments/deposits/",
                           {"amount": "1.00", "currency": currency, "provider": "sandbox"},
                           format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert resp.status_code == 400
    assert resp.json()["code"] in {"unknown_currency", "invalid_request"}
    assert Deposit.objects.count() == 0


def test_currency_exponents_are_respected(player_api):
    ok = player_api.post("/api/v1/payments/deposits/",
                         {"amount": "0.00000001", "currency": "BTC", "provider": "sandbox"},
                         format="json", HTTP_IDEMPOTENCY_KEY="btc")
    assert ok.status_code == 201 and ok.json()["amount"] == "0.00000001"
    assert Deposit.objects.get().amount == 1
    bad = player_api.post("/api/v1/payments/deposits/",
                          {"amount": "0.001", "currency": "EUR", "provider": "sandbox"},
                          format="json", HTTP_IDEMPOTENCY_KEY="eur")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_amount"
    assert Deposit.objects.count() == 1


def test_replayed_4xx_is_not_double_processed(player_api):
    """A stored 4xx is replayed too (the key is spent), so a client retry is consistent."""
    body = {"amount": "-1", "currency": "USD", "provider": "sandbox"}
    first = player_api.post("/api/v1/payments/deposits/", body, format="json",
                            HTTP_IDEMPOTENCY_KEY="neg")
    second = player_api.post("/api/v1/payments/deposits/", body, format="json",
                             HTTP_IDEMPOTENCY_KEY="neg")
    assert first.status_code == second.status_code == 400
    assert second.headers["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.count() == 1
