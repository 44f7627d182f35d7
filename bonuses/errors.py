"""Refusals of the bonus app: each a stable code (docs/bonuses.md)."""

from common.errors import DomainError


class CampaignNotFound(DomainError):
    code = "campaign_not_found"
    status_code = 404
    default_detail = "No such campaign."


class BonusNotFound(DomainError):
    code = "bonus_not_found"
    status_code = 404
    default_detail = "No such bonus."


class CampaignInactive(DomainError):
    code = "campaign_inactive"
    status_code = 409
    default_detail = "The campaign is not active."


class BonusAlreadyOpen(DomainError):
    code = "bonus_already_open"
    status_code = 409
    default_detail = "The player already has an open bonus in this currency."


class BonusNotOpen(DomainError):
    code = "bonus_not_open"
    status_code = 409
    default_detail = "The bonus is no longer open."


class BonusMaxBetExceeded(DomainError):
    code = "bonus_max_bet_exceeded"
    status_code = 422
    default_detail = "The stake is above the maximum bet allowed while a bonus is wagered."


class BonusForfeitConfirmationRequired(DomainError):
    code = "bonus_forfeit_confirmation_required"
    status_code = 409
    default_detail = ("A withdrawal forfeits your active bonus. Repeat the request with "
                      "forfeit_bonus=true to confirm.")


class BonusStaffRecipient(DomainError):
    code = "bonus_staff_recipient"
    status_code = 422
    default_detail = "Staff accounts cannot receive bonuses."


class InvalidCampaign(DomainError):
    code = "invalid_campaign"
    status_code = 400
    default_detail = "The campaign terms are invalid."
