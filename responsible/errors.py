"""Responsible-gambling refusals, each with a stable code (docs/responsible-gambling.md)."""

from common.errors import BadRequest, Conflict, DomainError, Forbidden


class LimitExceeded(DomainError):
    code = "limit_exceeded"
    status_code = 422
    default_detail = "This would exceed one of your limits."


class SelfExcluded(Forbidden):
    code = "self_excluded"
    default_detail = "Your account is self-excluded: gambling and deposits are closed."


class TimedOut(Forbidden):
    code = "timed_out"
    default_detail = "You are taking a time-out: gambling and deposits are paused."


class ExternallyExcluded(Forbidden):
    code = "externally_excluded"
    default_detail = "You are registered with the national self-exclusion scheme."


class RegisterUnavailable(DomainError):
    code = "exclusion_register_unavailable"
    status_code = 503
    default_detail = (
        "The national self-exclusion register cannot be checked right now; please try again later."
    )


class CoolingOff(Conflict):
    code = "cooling_off"
    default_detail = "This change takes effect only after its cooling-off period."


class NothingPending(Conflict):
    code = "nothing_pending"
    default_detail = "There is no pending change to confirm or cancel."


class ExclusionNotLiftable(Conflict):
    code = "exclusion_not_liftable"
    default_detail = "A self-exclusion cannot be lifted before it ends."


class ExclusionActive(Conflict):
    code = "exclusion_active"
    default_detail = "A time-out or self-exclusion is already in force."


class InvalidLimit(BadRequest):
    code = "invalid_limit"
    default_detail = "The limit is not valid."


class InvalidDuration(BadRequest):
    code = "invalid_duration"
    default_detail = "The duration is outside the allowed range."


class RealityCheckPending(Conflict):
    code = "reality_check_pending"
    default_detail = "Acknowledge the reality check to continue playing."


class ReasonRequired(BadRequest):
    code = "reason_required"
    default_detail = "A reason is required."


class RegisterError(Exception):
    """The external register did not answer (timeout, outage, bad response). Internal: the
    services turn it into RegisterUnavailable (503) or keep the last recorded answer."""
