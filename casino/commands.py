"""The internal command model every provider adapter translates its contract into.

Amounts are integer minor units of `currency`; ids are the provider's strings. An adapter
parses and validates its wire format into one of these, calls the matching service, and
renders the WalletResult (or the DomainError) back into its contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import WinKind


@dataclass(frozen=True)
class Caller:
    provider: str
    token: str
    # The provider's name for the player ("user"), when its contract sends one: it must be
    # the launch token's player.
    player_ref: str | None = None
    request_id: str = ""


@dataclass(frozen=True)
class BalanceQuery:
    caller: Caller
    game: str = ""


@dataclass(frozen=True)
class BetCommand:
    caller: Caller
    transaction_id: str
    round_id: str
    game: str
    currency: str
    amount: int
    round_closed: bool = False
    # A free spin / free bet the provider funds: recorded, never debited.
    free: bool = False


@dataclass(frozen=True)
class WinCommand:
    caller: Caller
    transaction_id: str
    round_id: str
    game: str
    currency: str
    amount: int  # may be 0: a losing round's closing "win"
    reference_transaction_id: str = ""  # the bet; optional for free-spin and jackpot wins
    win_kind: str = WinKind.REGULAR
    round_closed: bool = False


@dataclass(frozen=True)
class RollbackCommand:
    caller: Caller
    transaction_id: str
    reference_transaction_id: str  # the bet to reverse
    round_id: str = ""
    game: str = ""
    round_closed: bool = False


@dataclass(frozen=True)
class RoundEndCommand:
    caller: Caller
    round_id: str


@dataclass(frozen=True)
class WalletResult:
    player_id: int
    currency: str
    balance: int  # the player's cash balance, minor units
    code: str = "ok"  # "ok", or the stable error code a stored answer carries
    replayed: bool = False
    transaction_id: str = ""

    @property
    def ok(self) -> bool:
        return self.code == "ok"
