"""KYC and AML refusals, each with a stable code."""

from common.errors import BadRequest, Conflict, DomainError, Forbidden, NotFound


class KYCAlreadyVerified(Conflict):
    code = "kyc_already_verified"
    default_detail = "Your identity is already verified."


class KYCApplicationExists(Conflict):
    code = "kyc_application_exists"
    default_detail = "You already have an application under review."


class KYCReapplyNotAllowed(Conflict):
    code = "kyc_reapply_not_allowed"
    default_detail = (
        "Your application was rejected. You may apply again once compliance allows it."
    )


class KYCInvalidState(Conflict):
    code = "invalid_state"
    default_detail = "The operation is not allowed in the application's current state."


class KYCApplicationNotFound(NotFound):
    code = "not_found"
    default_detail = "No such KYC application."


class KYCDocumentNotFound(NotFound):
    code = "not_found"
    default_detail = "No such document."


class DocumentsMissing(BadRequest):
    code = "documents_missing"
    default_detail = (
        "An application needs an identity document (passport, id_card or driving_licence) "
        "and a selfie."
    )


class ReasonRequired(BadRequest):
    code = "reason_required"
    default_detail = "A reason is required for this decision."


class PlayerNotFound(NotFound):
    code = "not_found"
    default_detail = "No such player."


class ComplianceRoleRequired(Forbidden):
    code = "permission_denied"
    default_detail = "Only compliance officers may do this."


class AccountRestricted(DomainError):
    code = "account_restricted"
    status_code = 403
    default_detail = "This account is restricted."


class KYCRequired(DomainError):
    code = "kyc_required"
    status_code = 422
    default_detail = "Identity verification is required for this withdrawal."
