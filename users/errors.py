"""Refusals of the users app (codes in DESIGN.md).

Authentication failures subclass DRF's exceptions (so DRF marks the request
unauthenticated) and carry a `stable_code` the exception handler puts in the body."""

from rest_framework import exceptions

from common.errors import DomainError


class UsernameTaken(DomainError):
    code = "username_taken"
    status_code = 409
    default_detail = "That username is already taken."


class UsernameConfusable(DomainError):
    """The username looks like an existing one, or mixes scripts with look-alike letters."""

    code = "username_confusable"
    status_code = 409
    default_detail = "That username looks too much like another one; choose a different one."


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status_code = 401
    default_detail = "Username or password is wrong."


class InvalidToken(exceptions.AuthenticationFailed):
    stable_code = "authentication_failed"  # unchanged from before issue 12
    default_detail = "The token is not valid."


class TokenExpired(exceptions.AuthenticationFailed):
    stable_code = "token_expired"
    default_detail = "The token has expired: log in again."


class TokenRevoked(exceptions.AuthenticationFailed):
    stable_code = "token_revoked"
    default_detail = "The token was revoked: log in again."


class OTPRequired(exceptions.PermissionDenied):
    """A staff action with a credential that did not pass a second factor."""

    stable_code = "otp_required"
    default_detail = ("Staff actions need a credential issued after password and a current "
                      "authenticator (TOTP) code.")


class OTPCodeRequired(DomainError):
    """The token endpoint was given a staff password without a TOTP code."""

    code = "otp_required"
    status_code = 401
    default_detail = "Staff accounts need the current authenticator code (otp_token)."


class OTPInvalid(DomainError):
    code = "otp_invalid"
    status_code = 401
    default_detail = "That authenticator code is not valid."


class OTPThrottled(DomainError):
    code = "otp_throttled"
    status_code = 429
    default_detail = "Too many wrong authenticator codes: wait a few seconds and try again."


class OTPNotEnrolled(DomainError):
    code = "otp_not_enrolled"
    status_code = 403
    default_detail = ("Two-factor authentication is not set up for this account; ask an "
                      "administrator to enrol a TOTP device.")


class DeviceNotFound(DomainError):
    code = "not_found"
    status_code = 404
    default_detail = "No such device."


class ReasonRequired(DomainError):
    code = "reason_required"
    status_code = 400
    default_detail = "A reason is required."
