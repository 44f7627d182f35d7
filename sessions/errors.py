"""Stable error codes of game sessions (API bodies and WebSocket `error` messages)."""

from common.errors import BadRequest, Conflict, DomainError, NotFound


class SessionNotFound(NotFound):
    code = "session_not_found"
    default_detail = "No such game session."


class SessionNotLive(Conflict):
    code = "session_not_live"
    default_detail = "This game session is no longer live."

    def __init__(self, detail: str | None = None, *, status: str = "", close_reason: str = ""):
        super().__init__(detail, extra={"status": status, "close_reason": close_reason})
        self.status = status
        self.close_reason = close_reason


class UnknownGame(BadRequest):
    code = "unknown_game"
    default_detail = "Unknown game."


class RoundNotFound(NotFound):
    code = "round_not_found"
    default_detail = "No such round in this session."


class RoundAlreadyOpen(Conflict):
    code = "round_already_open"
    default_detail = "Finish the open round before betting again."


class RoundIdReused(DomainError):
    code = "round_id_reused"
    status_code = 422
    default_detail = "This round id was already used with a different stake."


class RoundNotOpen(Conflict):
    code = "round_not_open"
    default_detail = "This round is already resolved."


class ImpossibleGuess(BadRequest):
    code = "impossible_guess"
    default_detail = "This guess cannot win with the current card; pick the other one."


class InvalidMessage(BadRequest):
    code = "invalid_message"
    default_detail = "The message is not understood."
