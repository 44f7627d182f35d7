"""Sportsbook refusals, each with a stable code."""

from common.errors import BadRequest, Conflict, DomainError, NotFound


class OddsChanged(Conflict):
    code = "odds_changed"
    default_detail = "The odds changed; place the bet again at the current odds."


class MarketSuspended(Conflict):
    code = "market_suspended"
    default_detail = "The market is suspended; no bets are accepted right now."


class MarketClosed(Conflict):
    code = "market_closed"
    default_detail = "The market no longer accepts bets or price changes."


class MarketStateConflict(Conflict):
    code = "invalid_state"
    default_detail = "The market cannot do this in its current state."


class StakeOutOfRange(DomainError):
    code = "stake_out_of_range"
    status_code = 422
    default_detail = "The stake is outside the market's limits."


class PayoutLimitExceeded(DomainError):
    code = "payout_limit_exceeded"
    status_code = 422
    default_detail = "The potential payout exceeds the limit for one bet."


class InvalidOdds(BadRequest):
    code = "invalid_odds"
    default_detail = "Odds must be a decimal string between 1.001 and 1000 with at most 3 decimals."


class InvalidLegs(BadRequest):
    code = "invalid_legs"
    default_detail = "A bet has 1 to 10 legs, each on a different event."


class InvalidSelection(BadRequest):
    code = "invalid_selection"
    default_detail = "The selection does not exist or does not belong to this market."


class SelectionNotFound(NotFound):
    code = "selection_not_found"
    default_detail = "Selection not found."


class MarketNotFound(NotFound):
    code = "market_not_found"
    default_detail = "Market not found."


class BetNotFound(NotFound):
    code = "bet_not_found"
    default_detail = "Bet not found."


class EventStarted(Conflict):
    code = "event_started"
    default_detail = "The event has started and this market is not in-play: no more bets."


class EventNotStarted(Conflict):
    code = "event_not_started"
    default_detail = ("The event has not started: its markets cannot be settled yet "
                      "(void it, with a reason, if it will not take place).")


class ReasonRequired(BadRequest):
    code = "reason_required"
    default_detail = "A reason is required to void a market."
