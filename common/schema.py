"""The OpenAPI schema a developer can call from (drf-spectacular).

On top of what drf-spectacular reads from the views and serializers, every operation gets:

- **one tag per area** (`AREAS`, from the URL: Wallet, Payments, Betting, Backoffice: KYC...);
- **`Idempotency-Key`**, a required header, on every view method decorated with
  `common.idempotency.idempotent` (every money POST);
- **every error response it can give**, each with the shared `Error` body
  (`{"code", "detail", "errors"?}`, `common.errors.api_exception_handler`) and the `code`
  restricted to the codes that operation can answer with that status. The generic ones are
  derived from the view (authentication, permissions, path parameters, request body,
  throttles, idempotency); the business refusals come from the operation table
  (`settings.API_OPERATION_DOCS`, config/api_docs.py), which also gives the summary and the
  description a developer reads (view docstrings are for maintainers and are not published).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict

from django.conf import settings
from django.utils.module_loading import import_string
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny, IsAuthenticated

from common.errors import BodyTooDeep, BodyTooLarge, InvalidCharacters
from common.money import CURRENCIES

# URL prefix (under /api/v1/) -> tag; first match wins.
AREAS: list[tuple[str, str]] = [
    ("auth/", "Auth"),
    ("wallets/", "Wallet"),
    ("payments/webhooks/", "Provider callbacks"),
    ("payments/", "Payments"),
    ("betting/", "Betting"),
    ("kyc/", "KYC"),
    ("games/", "Game sessions"),
    ("casino/", "Casino"),
    ("responsible/", "Responsible gambling"),
    ("bonuses/", "Bonuses"),
    ("backoffice/withdrawals/", "Backoffice: payments"),
    ("backoffice/adjustments/", "Backoffice: payments"),
    ("backoffice/callbacks/", "Backoffice: payments"),
    ("backoffice/refunds/", "Backoffice: payments"),
    ("backoffice/events/", "Backoffice: trading"),
    ("backoffice/selections/", "Backoffice: trading"),
    ("backoffice/markets/", "Backoffice: trading"),
    ("backoffice/kyc/", "Backoffice: KYC"),
    ("backoffice/players/{player_id}/aml-status/", "Backoffice: KYC"),
    ("backoffice/game-sessions/", "Backoffice: support"),
    ("backoffice/players/", "Backoffice: support"),
    ("backoffice/reconciliation/", "Backoffice: reconciliation"),
    ("backoffice/responsible/", "Backoffice: responsible gambling"),
    ("backoffice/bonuses/", "Backoffice: bonuses"),
]

TAG_DESCRIPTIONS = {
    "Auth": "Register, log in (staff with their TOTP code), list and revoke your devices, log out.",
    "Wallet": "Balances per currency and the ledger of every change.",
    "Payments": "Deposits and withdrawals through a payment provider.",
    "Provider callbacks": "Signed callbacks from payment providers (no bearer token).",
    "Betting": "Sports events, and bets on their selections.",
    "KYC": "Identity verification: submit documents, follow the decision.",
    "Game sessions": "Short in-house games played over a WebSocket.",
    "Casino": "Launch a third-party casino game.",
    "Responsible gambling": "Limits, time-outs, self-exclusion and reality checks.",
    "Backoffice: payments": "Staff: withdrawal approval, refunds, balance adjustments, callback review.",
    "Backoffice: trading": "Staff (traders): events, odds, market suspension and settlement.",
    "Backoffice: KYC": "Staff (compliance): the KYC queue, decisions, documents, AML status.",
    "Backoffice: support": "Staff (support): find a player, close a stuck game session.",
    "Backoffice: reconciliation": "Staff: discrepancies, KPIs, projection lag, player summary.",
    "Backoffice: responsible gambling": "Staff: impose limits and exclusions, with a reason.",
    "Bonuses": "Your bonuses and their wagering progress.",
    "Backoffice: bonuses": "Staff (payments): campaigns, manual grants and forfeits, with a reason.",
}

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every refusal: a stable machine `code` and a human `detail`.",
    "properties": {
        "code": {"type": "string", "description": "Stable snake_case code; branch on this."},
        "detail": {"type": "string", "description": "Human-readable explanation."},
        "errors": {
            "type": "object",
            "additionalProperties": True,
            "description": "Validation errors: field name -> list of messages.",
        },
        "retry_after_s": {"type": "integer", "description": "On 429: seconds to wait."},
    },
    "required": ["code", "detail"],
    "additionalProperties": True,
}

STATUS_TEXT = {
    400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
    409: "Conflict", 413: "Request body too large", 415: "Unsupported media type",
    422: "Refused by a business rule", 429: "Too many requests", 503: "Service unavailable",
}

# Codes any operation with a request body can answer (common.errors.PROMOTED_FIELD_CODES
# surface as the top-level code when the matching field is present).
BODY_ERRORS = [(400, "invalid_request"), (400, "parse_error"), (415, "unsupported_media_type"),
               (400, BodyTooDeep.code), (BodyTooLarge.status_code, BodyTooLarge.code)]
# The request guard in front of every view (common.edges): NUL or a lone surrogate in the path,
# query or body.
EDGE_ERRORS = [(400, InvalidCharacters.code)]
# Codes every operation can answer are listed in settings.API_GLOBAL_ERRORS (the request
# guard in front of the API), those of every staff operation in settings.API_STAFF_ERRORS.
IDEMPOTENCY_ERRORS = [(400, "idempotency_key_required"), (409, "idempotency_key_in_progress"),
                      (422, "idempotency_key_reused")]
AUTH_ERRORS = [(401, "not_authenticated"), (401, "authentication_failed"), (401, "token_expired"),
               (401, "token_revoked"),
               # A staff member's credential that did not pass TOTP (users.authentication).
               (403, "otp_required")]

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=True,
    type=str,
    pattern=r"^[A-Za-z0-9._:\-]{1,255}$",
    description=(
        "A fresh value (a UUID is ideal) for each new operation; send the same value again to "
        "retry it safely. A retry with the same key and body replays the first answer "
        "(`Idempotent-Replayed: true`); the same key with another body is refused "
        "(422 `idempotency_key_reused`). Keys are kept for 24 hours, per player."
    ),
)


@functools.cache
def operation_docs() -> dict[str, dict]:
    path = getattr(settings, "API_OPERATION_DOCS", "")
    return import_string(path) if path else {}


def _codes(entries) -> list[tuple[int, str]]:
    """DomainError classes or (status, code) pairs -> (status, code) pairs."""
    out = []
    for entry in entries:
        if isinstance(entry, tuple):
            out.append((int(entry[0]), entry[1]))
        else:
            out.append((int(entry.status_code), entry.code))
    return out


class AutoSchema(BaseAutoSchema):
    """Names nested Input/Output serializers after their view (`WithdrawalCreateApiInput`) and
    adds tags, the Idempotency-Key header and the error responses (module docstring)."""

    def get_serializer_name(self, serializer, direction):
        qualname = serializer.__class__.__qualname__
        if "." in qualname:
            return "".join(part.removesuffix("Serializer") for part in qualname.split(".")
                           if part != "<locals>")
        return super().get_serializer_name(serializer, direction)

    # --- what the table says ----------------------------------------------------------------
    @property
    def _op_key(self) -> str:
        return f"{self.method} {self.path}"

    def _doc(self) -> dict:
        return operation_docs().get(self._op_key, {})

    def get_summary(self):
        return self._doc().get("summary") or super().get_summary()

    def get_description(self):  # type: ignore[override]  # drf-spectacular's signature
        # Only what is written for developers: the table, or extend_schema(description=...).
        # Internal docstrings stay in the code.
        # (extend_schema(description=...) overrides this method itself.)
        return self._doc().get("description", "")

    def get_tags(self):
        rel = re.sub(r"^/api/v1/", "", self.path)
        for prefix, tag in AREAS:
            if rel.startswith(prefix):
                return [tag]
        return super().get_tags()

    # --- the header ---------------------------------------------------------------------------
    def _is_idempotent(self) -> bool:
        method = getattr(self.view, self.method.lower(), None)
        return bool(getattr(method, "idempotent", False))

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if self._is_idempotent():
            params.append(IDEMPOTENCY_HEADER)
        return params

    # --- the errors ---------------------------------------------------------------------------
    def _requires_auth(self) -> bool:
        perms = self.view.get_permissions()
        if perms and all(isinstance(p, AllowAny) for p in perms):
            return False
        return bool(self.view.get_authenticators())

    def _checks_roles(self) -> bool:
        return any(not isinstance(p, (IsAuthenticated, AllowAny)) for p in self.view.get_permissions())

    def error_codes(self) -> dict[int, list[str]]:
        found: list[tuple[int, str]] = []
        doc = self._doc()
        if self._requires_auth():
            found += AUTH_ERRORS
        if self._checks_roles() or self.path.startswith("/api/v1/backoffice/"):
            found.append((403, "permission_denied"))
        if self.path.startswith("/api/v1/backoffice/"):
            found += _codes(getattr(settings, "API_STAFF_ERRORS", []))
        query = {p["name"] for p in self._get_parameters() if p.get("in") == "query"}
        if re.search(r"{\w+}", self.path) or "cursor" in query:
            found.append((404, "not_found"))  # also a cursor that decodes to nothing
        if query:
            found.append((400, "invalid_request"))  # a filter out of range
        if self.method in ("POST", "PUT", "PATCH"):
            found += BODY_ERRORS
        if self.view.get_throttles():
            found.append((429, "too_many_attempts"))
        if self._is_idempotent():
            found += IDEMPOTENCY_ERRORS
        found += EDGE_ERRORS
        found += _codes(getattr(settings, "API_GLOBAL_ERRORS", []))
        found += _codes(doc.get("errors", []))
        by_status: dict[int, list[str]] = defaultdict(list)
        for status, code in found:
            if code not in by_status[status]:
                by_status[status].append(code)
        return dict(sorted(by_status.items()))

    def _error_component(self):
        component = ResolvedComponent(name=ERROR_COMPONENT, type=ResolvedComponent.SCHEMA,
                                      object=ERROR_COMPONENT, schema=ERROR_SCHEMA)
        self.registry.register_on_missing(component)
        return component

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        ref = self._error_component().ref
        for status, codes in self.error_codes().items():
            key = str(status)
            if key in responses:
                continue
            listed = ", ".join(f"`{c}`" for c in codes)
            responses[key] = {
                "description": f"{STATUS_TEXT.get(status, 'Error')}: {listed}.",
                "content": {"application/json": {"schema": {
                    "allOf": [ref, {"type": "object",
                                    "properties": {"code": {"type": "string", "enum": codes}}}],
                }}},
            }
        return dict(sorted(responses.items()))


def _currency_enum() -> dict:
    return {"type": "string", "enum": list(CURRENCIES),
            "description": "ISO 4217 code, or USDT / BTC."}


def postprocess(result, generator, request, public):
    """drf-spectacular hook: every `currency` property and parameter is the Currency enum;
    the area tags carry their descriptions."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Currency"] = _currency_enum()
    ref = {"$ref": "#/components/schemas/Currency"}
    for schema in schemas.values():
        for name, prop in (schema.get("properties") or {}).items():
            if name == "currency" and prop.get("type") == "string" and "enum" not in prop:
                nullable = prop.get("nullable")
                prop.clear()
                if nullable:
                    prop.update({"allOf": [ref], "nullable": True})
                else:
                    prop.update(ref)
    for ops in result.get("paths", {}).values():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param.get("name") == "currency" and param.get("in") == "query":
                    param["schema"] = dict(ref)
    used = {t for ops in result.get("paths", {}).values() for op in ops.values()
            for t in op.get("tags", [])}
    result["tags"] = [{"name": t, "description": d} for t, d in TAG_DESCRIPTIONS.items()
                      if t in used]
    return result
