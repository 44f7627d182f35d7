from common.errors import DomainError


class UnknownAffiliateCode(DomainError):
    code = "unknown_affiliate_code"
    status_code = 400
    default_detail = "No active affiliate has this code."


class AttributionImmutable(DomainError):
    code = "attribution_immutable"
    status_code = 409
    default_detail = "The player's affiliate attribution is fixed at registration."


class MonthNotOver(DomainError):
    code = "month_not_over"
    status_code = 409
    default_detail = "A month can be closed only after it has ended."


class InvalidPayout(DomainError):
    code = "invalid_payout"
    status_code = 422
    default_detail = "A payout must be positive and not more than what is payable."
