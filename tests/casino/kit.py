"""The seamless-wallet conformance kit's clients: one per adapter, each speaking its
provider's wire contract over real HTTP, normalizing answers into one `Answer` so the same
scenarios run against every adapter."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from casino.adapters.hub88 import to_minor, to_wire
from casino.services import provider_user_id
from casino.signatures import hmac_sign
from common.money import format_amount, parse_amount

SANDBOX_SECRET = "kit-sandbox-secret-0123456789"


@dataclass(frozen=True)
class Answer:
    ok: bool
    # A normalized outcome every adapter maps to: ok, duplicate, rolled_back, not_found,
    # insufficient_funds, wrong_currency, token_expired, invalid_token, bad_signature,
    # user_disabled, invalid.
    outcome: str
    balance: int | None  # minor units, when the answer carries one
    raw: dict
    http_status: int


@dataclass(frozen=True)
class Player:
    id: int
    token: str
    currency: str = "USD"
    game: str = "kit_slot"


class SandboxClient:
    name = "sandbox"
    OUTCOMES = {
        "duplicate_transaction": "duplicate", "transaction_rolled_back": "rolled_back",
        "transaction_not_found": "not_found", "insufficient_funds": "insufficient_funds",
        "wrong_currency": "wrong_currency", "token_expired": "token_expired",
        "invalid_token": "invalid_token", "invalid_signature": "bad_signature",
        "account_restricted": "user_disabled",
    }
    ROLLED_BACK_BET = "rolled_back"
    ROLLED_BACK_WIN = "rolled_back"

    def __init__(self, base: str, *, secret: str = SANDBOX_SECRET):
        self.base = base
        self.secret = secret
        self.http = httpx.Client(timeout=30)

    def post(self, action: str, body: dict, *, signature: str | None = None,
             timestamp: int | None = None) -> Answer:
        raw = json.dumps(body).encode()
        ts = int(time.time()) if timestamp is None else timestamp
        sig = signature if signature is not None else hmac_sign(
            secret=self.secret.encode(), timestamp=ts, body=raw)
        resp = self.http.post(f"{self.base}/api/v1/casino/sandbox/{action}", content=raw,
                              headers={"Content-Type": "application/json", "X-Signature": sig})
        data = resp.json()
        balance = None
        if "balance" in data:
            balance = parse_amount(data["balance"], data["currency"], allow_zero=True)
        if resp.status_code == 200 and data.get("status") == "ok":
            return Answer(True, "ok", balance, data, resp.status_code)
        return Answer(False, self.OUTCOMES.get(data.get("code"), "invalid"), balance, data,
                      resp.status_code)

    def balance(self, p: Player, **kw) -> Answer:
        return self.post("balance", {"token": p.token, "game": p.game}, **kw)

    def bet(self, p: Player, txid: str, round_id: str, amount: int, *, currency: str | None = None,
            round_closed: bool = False, **kw) -> Answer:
        currency = currency or p.currency
        return self.post("bet", {"token": p.token, "transaction_id": txid, "round_id": round_id,
                                 "game": p.game, "currency": currency,
                                 "amount": format_amount(amount, currency),
                                 "round_closed": round_closed}, **kw)

    def win(self, p: Player, txid: str, bet_txid: str, round_id: str, amount: int, *,
            round_closed: bool = True, **kw) -> Answer:
        return self.post("win", {"token": p.token, "transaction_id": txid,
                                 "reference_transaction_id": bet_txid, "round_id": round_id,
                                 "game": p.game, "currency": p.currency,
                                 "amount": format_amount(amount, p.currency),
                                 "round_closed": round_closed}, **kw)

    def rollback(self, p: Player, txid: str, bet_txid: str, round_id: str, **kw) -> Answer:
        return self.post("rollback", {"token": p.token, "transaction_id": txid,
                                      "reference_transaction_id": bet_txid, "round_id": round_id,
                                      "game": p.game}, **kw)


def generate_keypair() -> tuple[rsa.RSAPrivateKey, str]:
    """An RSA key pair for the Hub88 adapter: (private key, public key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, pem.decode()


class Hub88Client:
    name = "hub88"
    OUTCOMES = {
        "RS_ERROR_DUPLICATE_TRANSACTION": "duplicate",
        "RS_ERROR_TRANSACTION_DOES_NOT_EXIST": "not_found",
        "RS_ERROR_NOT_ENOUGH_MONEY": "insufficient_funds",
        "RS_ERROR_WRONG_CURRENCY": "wrong_currency",
        "RS_ERROR_TOKEN_EXPIRED": "token_expired",
        "RS_ERROR_INVALID_TOKEN": "invalid_token",
        "RS_ERROR_INVALID_SIGNATURE": "bad_signature",
        "RS_ERROR_USER_DISABLED": "user_disabled",
    }
    # What the Hub88 contract answers where the sandbox names the finer outcome.
    ROLLED_BACK_BET = "duplicate"
    ROLLED_BACK_WIN = "not_found"

    def __init__(self, base: str, private_key: rsa.RSAPrivateKey):
        self.base = base
        self.key = private_key
        self.http = httpx.Client(timeout=30)
        self.seq = 0

    def sign(self, raw: bytes) -> str:
        return base64.b64encode(self.key.sign(raw, padding.PKCS1v15(), hashes.SHA256())).decode()

    def post(self, path: str, body: dict, *, signature: str | None = None) -> Answer:
        self.seq += 1
        body = {"request_uuid": f"req-{time.monotonic_ns()}-{self.seq}", **body}
        raw = json.dumps(body).encode()
        resp = self.http.post(f"{self.base}/api/v1/casino/hub88/{path}", content=raw,
                              headers={"Content-Type": "application/json",
                                       "X-Hub88-Signature": signature if signature is not None
                                       else self.sign(raw)})
        data = resp.json()
        assert resp.status_code == 200, (resp.status_code, data)  # Hub88 answers are all 200
        assert data["request_uuid"] == body["request_uuid"]
        balance = to_minor(data["balance"], data["currency"]) if "balance" in data else None
        if data["status"] == "RS_OK":
            return Answer(True, "ok", balance, data, resp.status_code)
        return Answer(False, self.OUTCOMES.get(data["status"], "invalid"), balance, data,
                      resp.status_code)

    def _base(self, p: Player) -> dict:
        return {"user": provider_user_id(p.id), "token": p.token, "game_code": p.game}

    def balance(self, p: Player, **kw) -> Answer:
        return self.post("user/balance", self._base(p), **kw)

    def bet(self, p: Player, txid: str, round_id: str, amount: int, *, currency: str | None = None,
            round_closed: bool = False, **kw) -> Answer:
        currency = currency or p.currency
        return self.post("transaction/bet", {**self._base(p), "transaction_uuid": txid,
                                             "round": round_id, "currency": currency,
                                             "amount": to_wire(amount, currency),
                                             "round_closed": round_closed, "is_free": False}, **kw)

    def win(self, p: Player, txid: str, bet_txid: str, round_id: str, amount: int, *,
            round_closed: bool = True, **kw) -> Answer:
        return self.post("transaction/win", {**self._base(p), "transaction_uuid": txid,
                                             "reference_transaction_uuid": bet_txid,
                                             "round": round_id, "currency": p.currency,
                                             "amount": to_wire(amount, p.currency),
                                             "round_closed": round_closed, "is_free": False},
                         **kw)

    def rollback(self, p: Player, txid: str, bet_txid: str, round_id: str, **kw) -> Answer:
        return self.post("transaction/rollback", {**self._base(p), "transaction_uuid": txid,
                                                  "reference_transaction_uuid": bet_txid,
                                                  "round": round_id, "round_closed": True}, **kw)
