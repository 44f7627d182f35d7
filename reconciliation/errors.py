"""Stable error codes of the reconciliation app."""

from common.errors import BadRequest, Conflict, NotFound


class InvalidReport(BadRequest):
    code = "invalid_report"
    default_detail = "The provider report could not be read."


class ReportAlreadyImported(Conflict):
    code = "report_already_imported"
    default_detail = "This provider report was already imported."


class DiscrepancyNotFound(NotFound):
    code = "discrepancy_not_found"
    default_detail = "No such discrepancy."


class DiscrepancyTransitionRefused(Conflict):
    code = "invalid_state"
    default_detail = "The discrepancy is not in a state that allows this."


class ResolutionReasonRequired(BadRequest):
    code = "reason_required"
    default_detail = "A reason is required to resolve a discrepancy."
