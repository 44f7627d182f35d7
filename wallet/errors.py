from common.errors import DomainError, NotFound, SelfApprovalRefused


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


class DepositNotRefundable(DomainError):
    code = "deposit_not_refundable"
    status_code = 409
    default_detail = "Only a succeeded deposit can be refunded."


class RefundExceedsDeposit(DomainError):
    code = "refund_exceeds_deposit"
    status_code = 422
    default_detail = "The refund is more than what is left of the deposit."


class RefundSelfApprovalRefused(SelfApprovalRefused):
    default_detail = "A refund must be approved by someone other than the staff member who requested it."


class InvalidSignature(DomainError):
    code = "invalid_signature"
    status_code = 401
    default_detail = "The webhook signature is missing, wrong or too old."


class UnknownProvider(NotFound):
    code = "unknown_provider"
    default_detail = "No such payment provider."


class DepositNotFound(NotFound):
    code = "not_found"
    default_detail = "No such deposit."


class WithdrawalNotFound(NotFound):
    code = "not_found"
    default_detail = "No such withdrawal."


class RefundNotFound(NotFound):
    code = "not_found"
    default_detail = "No such refund."


class AmountBelowFee(DomainError):
    code = "amount_below_fee"
    status_code = 422
    default_detail = "The amount does not cover the fee the player bears."
