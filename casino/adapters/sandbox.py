"""The built-in `sandbox` provider: our own contract, used by the demo and the tests.

POST /api/v1/casino/<provider>/{balance,bet,win,rollback,round/end}, JSON bodies, amounts as
decimal strings, signed with X-Signature (HMAC-SHA256, see casino.signatures). Success: 200
`{"status": "ok", "balance", "currency", "transaction_id", "replayed"}`; errors: the
platform's error body `{"code", "detail", "balance"?, "currency"?}` with DESIGN.md statuses.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework.exceptions import ValidationError

from common.errors import DomainError, error_body
from common.money import CURRENCIES, format_amount, parse_amount

from .. import services
from ..commands import (
    BalanceQuery,
    BetCommand,
    Caller,
    RollbackCommand,
    RoundEndCommand,
    WalletResult,
    WinCommand,
)
from ..errors import InvalidPayload, TransactionNotFound, TransactionRolledBack
from ..models import WinKind
from ..policy import ProviderPolicy
from ..signatures import hmac_verify

ACTIONS = ("balance", "bet", "win", "rollback", "round/end")
SIGNATURE_HEADER = "X-Signature"
# Status of a stored (replayed) error answer, by code.
_STORED_STATUS = {TransactionNotFound.code: 404, TransactionRolledBack.code: 409}


def _str(payload: dict, key: str, *, required: bool = True, max_length: int = 200) -> str:
    value = payload.get(key, None if required else "")
    if value is None or not isinstance(value, str) or (required and not value):
        raise InvalidPayload(f"{key} must be a non-empty string.")
    if len(value) > max_length:
        raise InvalidPayload(f"{key} is longer than {max_length} characters.")
    return value


def _bool(payload: dict, key: str) -> bool:
    value = payload.get(key, False)
    if not isinstance(value, bool):
        raise InvalidPayload(f"{key} must be true or false.")
    return value


def _currency(payload: dict) -> str:
    currency = _str(payload, "currency", max_length=8)
    if currency not in CURRENCIES:
        raise InvalidPayload(f"Unknown currency {currency!r}.", code="unknown_currency")
    return currency


def _caller(policy: ProviderPolicy, payload: dict, request: HttpRequest) -> Caller:
    return Caller(provider=policy.name, token=_str(payload, "token", max_length=200),
                  request_id=request.headers.get("X-Request-ID", ""))


def _parse(action: str, payload: Any, policy: ProviderPolicy, request: HttpRequest):
    if not isinstance(payload, dict):
        raise InvalidPayload("The body must be a JSON object.")
    caller = _caller(policy, payload, request)
    if action == "balance":
        return BalanceQuery(caller=caller, game=_str(payload, "game", required=False, max_length=64))
    if action == "round/end":
        return RoundEndCommand(caller=caller, round_id=_str(payload, "round_id"))
    if action == "rollback":
        return RollbackCommand(caller=caller, transaction_id=_str(payload, "transaction_id"),
                               reference_transaction_id=_str(payload, "reference_transaction_id"),
                               round_id=_str(payload, "round_id", required=False),
                               game=_str(payload, "game", required=False, max_length=64),
                               round_closed=_bool(payload, "round_closed"))
    currency = _currency(payload)
    common = {"caller": caller, "transaction_id": _str(payload, "transaction_id"),
              "round_id": _str(payload, "round_id"),
              "game": _str(payload, "game", max_length=64), "currency": currency,
              "round_closed": _bool(payload, "round_closed")}
    if action == "bet":
        return BetCommand(amount=parse_amount(payload.get("amount"), currency), **common)
    kind = payload.get("kind", WinKind.REGULAR)
    if kind not in WinKind.values:
        raise InvalidPayload(f"kind must be one of {WinKind.values}.")
    return WinCommand(amount=parse_amount(payload.get("amount"), currency, allow_zero=True),
                      reference_transaction_id=_str(payload, "reference_transaction_id",
                                                    required=kind == WinKind.REGULAR),
                      win_kind=kind, **common)


_SERVICES = {
    BalanceQuery: lambda c, now: services.casino_balance(query=c, now=now),
    BetCommand: lambda c, now: services.casino_bet(cmd=c, now=now),
    WinCommand: lambda c, now: services.casino_win(cmd=c, now=now),
    RollbackCommand: lambda c, now: services.casino_rollback(cmd=c, now=now),
    RoundEndCommand: lambda c, now: services.casino_round_end(cmd=c, now=now),
}


def _ok(result: WalletResult) -> JsonResponse:
    body = {"status": "ok", "balance": format_amount(result.balance, result.currency),
            "currency": result.currency, "transaction_id": result.transaction_id,
            "replayed": result.replayed}
    if not result.ok:
        # A stored error answer (e.g. an unknown-bet rollback under the "error" policy).
        body = error_body(result.code, "Stored answer of this transaction id.",
                          balance=body["balance"], currency=result.currency,
                          replayed=result.replayed)
        return JsonResponse(body, status=_STORED_STATUS.get(result.code, 409))
    return JsonResponse(body)


def _error(exc: DomainError) -> JsonResponse:
    extra = dict(exc.extra)
    currency = getattr(exc, "currency", None)
    if currency is not None:
        extra.update(balance=format_amount(exc.balance, currency), currency=currency)
    return JsonResponse(error_body(exc.code, exc.detail, **extra), status=exc.status_code)


def respond(request: HttpRequest, policy: ProviderPolicy, action: str, *, now) -> JsonResponse:
    raw = request.body
    try:
        hmac_verify(policy=policy, header=request.headers.get(SIGNATURE_HEADER), body=raw,
                    now_ts=int(now.timestamp()))
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise InvalidPayload("The body is not valid JSON.") from None
        try:
            command = _parse(action, payload, policy, request)
        except ValidationError as exc:
            # parse_amount's {field: [ErrorDetail(code=invalid_amount|unknown_currency)]}
            field, codes = next(iter(exc.get_codes().items()))
            raise InvalidPayload(str(exc.detail[field][0]), code=codes[0]) from None
        return _ok(_SERVICES[type(command)](command, now))
    except DomainError as exc:
        return _error(exc)
