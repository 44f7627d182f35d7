"""Refusals of the users app (codes in DESIGN.md)."""

from common.errors import DomainError


class UsernameTaken(DomainError):
    code = "username_taken"
    status_code = 409
    default_detail = "That username or email is already registered."


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status_code = 401
    default_detail = "Username or password is wrong."
