"""Domain errors and the one DRF exception handler that shapes every API error.

Body: {"code": "<stable_snake_case>", "detail": "<human text>", "errors": {...}?}
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import (
    PermissionDenied as DjangoPermissionDenied,
)
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A refusal by a business rule. Subclasses set `code` and `status_code`."""

    code = "domain_error"
    status_code = 422
    default_detail = "The operation was refused."

    def __init__(self, detail: str | None = None, *, code: str | None = None,
                 status_code: int | None = None, extra: dict[str, Any] | None = None):
        self.detail = detail or self.default_detail
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}
        super().__init__(self.detail)


class BadRequest(DomainError):
    code = "invalid_request"
    status_code = 400
    default_detail = "The request is invalid."


class NotFound(DomainError):
    code = "not_found"
    status_code = 404
    default_detail = "Not found."


class Conflict(DomainError):
    code = "conflict"
    status_code = 409
    default_detail = "The request conflicts with the current state."


class Forbidden(DomainError):
    code = "permission_denied"
    status_code = 403
    default_detail = "You are not allowed to do this."


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency_key_required"
    default_detail = "An Idempotency-Key header (1-255 of A-Z a-z 0-9 . _ : -) is required."


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status_code = 422
    default_detail = "This Idempotency-Key was used for a different request."


class IdempotencyKeyInProgress(Conflict):
    code = "idempotency_key_in_progress"
    default_detail = "A request with this Idempotency-Key is still being processed."


class BodyTooLarge(DomainError):
    code = "body_too_large"
    status_code = 413
    default_detail = "The request body is too large."


class BodyTooDeep(BadRequest):
    code = "body_too_deep"
    default_detail = "The request body is nested too deeply."


class InvalidCharacters(BadRequest):
    code = "invalid_characters"
    default_detail = "The request contains a NUL character or an unpaired surrogate."


class TooManyFields(BadRequest):
    code = "too_many_fields"
    default_detail = "The request has too many fields or files."


class StaffAccountRefused(Forbidden):
    """A staff account tried to play: register a player, deposit, bet, withdraw, start a game.

    Separation of duties: the people who set prices, approve payments and review KYC never
    hold a stake in the outcome (docs/backoffice.md, "Separation of duties")."""

    code = "staff_account"
    default_detail = "Staff accounts cannot play, deposit, withdraw or register a player account."


class SelfApprovalRefused(Forbidden):
    """A staff member tried to decide on their own subject (their own withdrawal, KYC
    application, AML status) or to give the second approval to what they proposed or
    approved first."""

    code = "self_approval_refused"
    default_detail = "Nobody decides on their own subject: another staff member must decide."


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "detail": detail, **extra}


_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "too_many_attempts"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.ValidationError, "invalid_request"),
]


def _first_code(detail: Any) -> str | None:
    """Return the first machine code found in DRF error details."""
    if isinstance(detail, exceptions.ErrorDetail):
        return str(detail.code) if detail.code else None
    if isinstance(detail, dict):
        for value in detail.values():
            found = _first_code(value)
            if found:
                return found
    if isinstance(detail, list):
        for value in detail:
            found = _first_code(value)
            if found:
                return found
    return None


# Field-level codes that name a domain problem precisely enough to surface as the top code.
PROMOTED_FIELD_CODES = {
    "invalid_amount",
    "unknown_currency",
    "idempotency_key_required",
    "invalid_file_type",
    "file_too_large",
    "empty_file",
    "image_decompression_bomb",
    "upload_too_large",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    # Limits Django enforces while parsing (the edge middleware refuses most of these first).
    if isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge()
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = TooManyFields()
    elif isinstance(exc, SuspiciousOperation):
        exc = BadRequest()
    if isinstance(exc, DomainError):
        body = error_body(exc.code, exc.detail, **exc.extra)
        return Response(body, status=exc.status_code)

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.APIException):
        # A subclass may name its own stable code (users.errors: invalid_token, otp_required).
        code = getattr(exc, "stable_code", None) or "error"
        for klass, name in _DRF_CODES if code == "error" else ():
            if isinstance(exc, klass):
                code = name
                break
        if isinstance(exc, exceptions.ValidationError):
            field_code = _first_code(exc.detail)
            if field_code in PROMOTED_FIELD_CODES:
                code = field_code
            errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            body = error_body(code, "The request is invalid.", errors=errors)
        else:
            body = error_body(code, str(exc.detail))
        # Throttled sets `wait` in __init__ (the stubs do not declare it).
        wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
        if wait is not None:
            headers["Retry-After"] = str(int(wait))
            body["retry_after_s"] = int(wait)
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return Response(body, status=exc.status_code, headers=headers)

    # Anything else is a bug: log it with its traceback, reveal nothing to the caller.
    logger.exception("unhandled error in API view")
    return Response(
        error_body("server_error", "An internal error occurred. It has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
