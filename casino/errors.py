"""Stable error codes of the casino wallet (adapters translate them into each provider's
contract, e.g. Hub88's RS_ERROR_* statuses; see docs/seamless-wallet.md)."""

from common.errors import BadRequest, Conflict, DomainError, NotFound


class InvalidSignature(DomainError):
    code = "invalid_signature"
    status_code = 401
    default_detail = "The request signature is missing, wrong or outside the allowed clock skew."


class UnknownProvider(NotFound):
    code = "unknown_provider"
    default_detail = "No such game provider."


class InvalidPayload(BadRequest):
    code = "invalid_payload"
    default_detail = "The request body does not match the contract."


class InvalidToken(DomainError):
    code = "invalid_token"
    status_code = 401
    default_detail = "The launch token is unknown."


class TokenExpired(DomainError):
    code = "token_expired"
    status_code = 401
    default_detail = "The launch token has expired; the player must launch the game again."


class PlayerMismatch(DomainError):
    code = "player_mismatch"
    status_code = 403
    default_detail = "The player does not match the launch token or the referenced transaction."


class WrongCurrency(DomainError):
    code = "wrong_currency"
    status_code = 422
    default_detail = "The currency differs from the one the game was launched in."


class InvalidGame(DomainError):
    code = "invalid_game"
    status_code = 422
    default_detail = "The game differs from the one the token was minted for."


class DuplicateTransaction(Conflict):
    code = "duplicate_transaction"
    default_detail = "This transaction id was already used with other parameters."


class TransactionRolledBack(Conflict):
    code = "transaction_rolled_back"
    default_detail = "The referenced bet (or this bet id) was rolled back."


class TransactionNotFound(NotFound):
    code = "transaction_not_found"
    default_detail = "The referenced transaction does not exist."


class InvalidReference(Conflict):
    code = "invalid_reference"
    default_detail = "The referenced transaction cannot be used this way."


class RoundClosed(Conflict):
    code = "round_closed"
    default_detail = "The round is closed or rolled back: it takes no more bets."


class WrongTypes(InvalidPayload):
    """A Hub88 request whose fields have the wrong JSON types (RS_ERROR_WRONG_TYPES)."""

    code = "wrong_types"
