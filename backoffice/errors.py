from common.errors import DomainError
from common.errors import SelfApprovalRefused as SelfApprovalRefused  # one for every self-decision


class RoleRequired(DomainError):
    code = "permission_denied"
    status_code = 403
    default_detail = "Your role does not allow this action."


class AdjustmentNotPending(DomainError):
    code = "invalid_state"
    status_code = 409
    default_detail = "This adjustment was already decided."


class ReasonRequired(DomainError):
    code = "reason_required"
    status_code = 400
    default_detail = "A reason is required."


class InvalidAdjustment(DomainError):
    code = "invalid_amount"
    status_code = 400
    default_detail = "The adjustment amount must be non-zero and within the allowed limit."


class NoteInvalid(DomainError):
    code = "note_invalid"
    status_code = 400
    default_detail = "A note needs between 1 and 4000 characters."


class NotAPlayer(DomainError):
    code = "not_a_player"
    status_code = 404
    default_detail = "No such player."


class CallbackNotReviewable(DomainError):
    code = "invalid_state"
    status_code = 409
    default_detail = "This provider callback does not await review (not flagged, or resolved)."
