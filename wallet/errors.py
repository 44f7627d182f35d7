from common.errors import DomainError


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    status_code = 422
    default_detail = "The available balance is not enough for this operation."


class UnbalancedPostings(Exception):
    """A programming error: postings that do not sum to zero per currency."""


class InvalidTransition(DomainError):
    code = "invalid_state"
    status_code = 409
    default_detail = "The operation is not allowed in the current state."


class WithdrawalCancelNotAllowed(DomainError):
    code = "cancel_not_allowed"
    status_code = 403
    default_detail = "Withdrawals cannot be cancelled once requested."
