"""A Hub88-style operator wallet contract (the public Hub88 Operator "Wallet API").

Hub88 calls the operator: POST <wallet url>/user/balance, /transaction/bet,
/transaction/win, /transaction/rollback with a JSON body signed by Hub88's private key:
`X-Hub88-Signature: base64(RSA-SHA256(body))`, verified with its public key. Every answer is
HTTP 200 with `{"user", "status", "request_uuid", "currency", "balance"}`; `status` is RS_OK
or an RS_ERROR_* code. Amounts and balances are integers with 5 decimals (100000 = 1.00),
converted exactly to our minor units (a wire amount finer than the currency's minor unit is
RS_ERROR_WRONG_TYPES; a balance finer than 5 decimals is rounded down).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest, JsonResponse

from common.errors import DomainError
from common.money import CURRENCIES

from .. import services
from ..commands import BalanceQuery, BetCommand, Caller, RollbackCommand, WalletResult, WinCommand
from ..errors import InvalidPayload, WrongTypes
from ..models import WinKind
from ..policy import ProviderPolicy
from ..signatures import rsa_verify

ACTIONS = ("user/balance", "transaction/bet", "transaction/win", "transaction/rollback")
SIGNATURE_HEADER = "X-Hub88-Signature"

OK = "RS_OK"
# Our stable codes -> Hub88 statuses. A refusal by a gate not named here answers by its
# HTTP class: 403 -> RS_ERROR_USER_DISABLED, 422 -> RS_ERROR_LIMIT_REACHED.
STATUSES = {
    "invalid_signature": "RS_ERROR_INVALID_SIGNATURE",
    "invalid_token": "RS_ERROR_INVALID_TOKEN",
    "player_mismatch": "RS_ERROR_INVALID_TOKEN",
    "token_expired": "RS_ERROR_TOKEN_EXPIRED",
    "wrong_currency": "RS_ERROR_WRONG_CURRENCY",
    "unknown_currency": "RS_ERROR_WRONG_CURRENCY",
    "invalid_game": "RS_ERROR_INVALID_GAME",
    "insufficient_funds": "RS_ERROR_NOT_ENOUGH_MONEY",
    "account_restricted": "RS_ERROR_USER_DISABLED",
    # Responsible-gambling gates (responsible app): a limit, or the player is excluded.
    "limit_exceeded": "RS_ERROR_LIMIT_REACHED",
    "self_excluded": "RS_ERROR_USER_DISABLED",
    "timed_out": "RS_ERROR_USER_DISABLED",
    "externally_excluded": "RS_ERROR_USER_DISABLED",
    "duplicate_transaction": "RS_ERROR_DUPLICATE_TRANSACTION",
    "transaction_not_found": "RS_ERROR_TRANSACTION_DOES_NOT_EXIST",
    "invalid_reference": "RS_ERROR_TRANSACTION_DOES_NOT_EXIST",
    "round_not_found": "RS_ERROR_TRANSACTION_DOES_NOT_EXIST",
    "invalid_payload": "RS_ERROR_WRONG_SYNTAX",
    "wrong_types": "RS_ERROR_WRONG_TYPES",
    "round_closed": "RS_ERROR_UNKNOWN",
    "unknown_provider": "RS_ERROR_INVALID_PARTNER",
}
# transaction_rolled_back depends on the call: a bet whose id a rollback already took is a
# used transaction_uuid; a win whose bet was rolled back references a bet that no longer is.
ROLLED_BACK = {"transaction/bet": "RS_ERROR_DUPLICATE_TRANSACTION",
               "transaction/win": "RS_ERROR_TRANSACTION_DOES_NOT_EXIST"}
WIRE_DECIMALS = 5


def status_for(code: str, http_status: int, action: str) -> str:
    if code == "transaction_rolled_back":
        return ROLLED_BACK.get(action, "RS_ERROR_TRANSACTION_DOES_NOT_EXIST")
    if code in STATUSES:
        return STATUSES[code]
    if http_status == 403:
        return "RS_ERROR_USER_DISABLED"
    if http_status == 422:
        return "RS_ERROR_LIMIT_REACHED"
    return "RS_ERROR_UNKNOWN"


def to_minor(wire: int, currency: str, decimals: int = WIRE_DECIMALS) -> int:
    exp = CURRENCIES[currency].exponent
    if exp >= decimals:
        return wire * 10 ** (exp - decimals)
    factor = 10 ** (decimals - exp)
    if wire % factor:
        raise WrongTypes(f"amount has more precision than {currency} allows.")
    return wire // factor


def to_wire(minor: int, currency: str, decimals: int = WIRE_DECIMALS) -> int:
    exp = CURRENCIES[currency].exponent
    if exp >= decimals:
        return minor // 10 ** (exp - decimals)
    return minor * 10 ** (decimals - exp)


def _field(payload: dict, key: str, kind: type, *, required: bool = True, default=None):
    if key not in payload or payload[key] is None:
        if required:
            raise InvalidPayload(f"{key} is required.")
        return default
    value = payload[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise WrongTypes(f"{key} must be an integer.")
    if kind is not int and not isinstance(value, kind):
        raise WrongTypes(f"{key} must be a {kind.__name__}.")
    if kind is str and (not value or len(value) > 200):
        raise WrongTypes(f"{key} must be 1-200 characters.")
    return value


def _parse(action: str, payload: Any, policy: ProviderPolicy, decimals: int):
    if not isinstance(payload, dict):
        raise InvalidPayload("The body must be a JSON object.")
    caller = Caller(provider=policy.name, token=_field(payload, "token", str),
                    player_ref=_field(payload, "user", str),
                    request_id=_field(payload, "request_uuid", str))
    game = _field(payload, "game_code", str, required=action != "transaction/rollback",
                  default="")
    if action == "user/balance":
        return BalanceQuery(caller=caller, game=game)
    round_id = _field(payload, "round", str)
    round_closed = _field(payload, "round_closed", bool, required=False, default=False)
    transaction_id = _field(payload, "transaction_uuid", str)
    if action == "transaction/rollback":
        return RollbackCommand(caller=caller, transaction_id=transaction_id,
                               reference_transaction_id=_field(payload,
                                                               "reference_transaction_uuid", str),
                               round_id=round_id, game=game, round_closed=round_closed)
    currency = _field(payload, "currency", str)
    if currency not in CURRENCIES:
        raise InvalidPayload(f"Unknown currency {currency!r}.", code="unknown_currency")
    amount = _field(payload, "amount", int)
    if amount < 0:
        raise WrongTypes("amount cannot be negative.")
    amount = to_minor(amount, currency, decimals)
    is_free = _field(payload, "is_free", bool, required=False, default=False)
    if action == "transaction/bet":
        return BetCommand(caller=caller, transaction_id=transaction_id, round_id=round_id,
                          game=game, currency=currency, amount=amount, round_closed=round_closed,
                          free=is_free)
    return WinCommand(caller=caller, transaction_id=transaction_id, round_id=round_id, game=game,
                      currency=currency, amount=amount, round_closed=round_closed,
                      reference_transaction_id=_field(payload, "reference_transaction_uuid", str),
                      win_kind=WinKind.FREE_SPIN if is_free else WinKind.REGULAR)


def _run(command, now) -> WalletResult:
    if isinstance(command, BalanceQuery):
        return services.casino_balance(query=command, now=now)
    if isinstance(command, BetCommand):
        return services.casino_bet(cmd=command, now=now)
    if isinstance(command, WinCommand):
        return services.casino_win(cmd=command, now=now)
    return services.casino_rollback(cmd=command, now=now)


_WIRE_STRING = {name: re.compile(rb'"%s"\s*:\s*"([A-Za-z0-9._:\-]{1,200})"' % name.encode())
                for name in ("request_uuid", "user")}


def edge_refusal(request: HttpRequest, exc: DomainError) -> JsonResponse:
    """A body refused before parsing (too large, too deep, NUL bytes: common.edges). Hub88
    answers every call with HTTP 200 and a status; a body it cannot read is
    RS_ERROR_WRONG_SYNTAX, echoing request_uuid and user when a plain scan finds them."""
    raw = request.body if exc.status_code != 413 else b""
    found = {name: (m.group(1).decode() if (m := pattern.search(raw)) else "")
             for name, pattern in _WIRE_STRING.items()}
    return JsonResponse({**found, "status": "RS_ERROR_WRONG_SYNTAX"})


def respond(request: HttpRequest, policy: ProviderPolicy, action: str, *, now) -> JsonResponse:
    raw = request.body
    decimals = policy.wire_decimals if policy.wire_decimals is not None else WIRE_DECIMALS
    payload: Any = None
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        pass
    request_uuid = payload.get("request_uuid", "") if isinstance(payload, dict) else ""
    user = payload.get("user", "") if isinstance(payload, dict) else ""
    body: dict[str, Any] = {"user": user if isinstance(user, str) else "",
                            "request_uuid": request_uuid if isinstance(request_uuid, str) else ""}
    try:
        rsa_verify(policy=policy, header=request.headers.get(SIGNATURE_HEADER), body=raw)
        if payload is None:
            raise InvalidPayload("The body is not valid JSON.")
        result = _run(_parse(action, payload, policy, decimals), now)
    except DomainError as exc:
        body["status"] = status_for(exc.code, exc.status_code, action)
        currency = getattr(exc, "currency", None)
        if currency is not None:
            body.update(currency=currency, balance=to_wire(exc.balance, currency, decimals))
        return JsonResponse(body)
    body.update(status=OK if result.ok else status_for(result.code, 409, action),
                user=services.provider_user_id(result.player_id), currency=result.currency,
                balance=to_wire(result.balance, result.currency, decimals))
    return JsonResponse(body)
