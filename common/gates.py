"""Compliance gates: every decision about a player's money, on locked state, inside the money
transaction.

A service that moves a player's money calls `gates_check` inside its own
`transaction.atomic`, after locking its domain rows (the withdrawal, the selections, the
session, the deposit) and before touching the player's accounts:

    with transaction.atomic(durable=True):
        withdrawal = _lock_withdrawal(withdrawal_id)             # 1. domain rows
        gates_check(operation=Operation.WITHDRAWAL_APPROVE,      # 2. compliance row
                    player_id=withdrawal.player_id, amount=withdrawal.amount,
                    currency=withdrawal.currency, now=now)
        ...ledger_post(...)                                      # 3. accounts, pk order

`gates_check` locks the player's compliance row (`SELECT ... FOR UPDATE`, created on demand
without a race) through the callable named by `settings.COMPLIANCE_ROW_LOCK` (the KYC app's
`AMLProfile`), then calls every gate listed in `settings.COMPLIANCE_GATES` with one
`GateContext`. A gate raises a `DomainError` to refuse (the service's transaction rolls back
whole), calls `ctx.flag(code, detail)` to let the operation through but mark it for review,
or returns. Because every change of compliance state (AML status, KYC decisions, limits,
exclusions) takes the same row lock, a block and a money operation are always ordered: the
operation either committed before the block, or it waits for the block and is refused.

Before any gate, `gates_check` refuses a staff account (403 `staff_account`) on every
operation a player starts with their own money (all but `DEPOSIT_CREDIT`, where the money
has already arrived, and `WITHDRAWAL_APPROVE`, which is a staff decision on the player's
money): separation of duties is not a configurable gate, so it is not in
`COMPLIANCE_GATES` and a test that empties that list still gets it.

Gates are registered by the app that owns the rule (the KYC app registers
`kyc.gates.compliance_gate`; responsible-gambling limits add theirs), so the money apps never
import them. A gate handles the operations it cares about (`ctx.operation`) and ignores the
rest; a new kind of money operation passes its own operation string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.module_loading import import_string

from .errors import StaffAccountRefused


class Operation(StrEnum):
    """The kinds of money operation the platform gates (`GateContext.operation`)."""

    DEPOSIT_CREATE = "deposit_create"  # a player opens a deposit
    DEPOSIT_CREDIT = "deposit_credit"  # the provider confirmed it: the money has arrived
    WITHDRAWAL_REQUEST = "withdrawal_request"
    WITHDRAWAL_APPROVE = "withdrawal_approve"  # each approval (first and second)
    BET_PLACE = "bet_place"
    ROUND_STAKE = "round_stake"  # a game round takes a stake
    CASINO_BET = "casino_bet"  # a game provider debits a bet (seamless wallet, casino app)


# Operations that are not a player acting on their own money: the provider's confirmation of
# money already paid in, and a staff decision. Every other operation (including the ones
# other apps pass as their own strings, e.g. "session_start") refuses staff accounts.
NOT_PLAYER_ACTIONS = frozenset({Operation.DEPOSIT_CREDIT, Operation.WITHDRAWAL_APPROVE})


def is_staff_account(user) -> bool:
    return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))


def refuse_staff_account(user) -> None:
    """Raise StaffAccountRefused when `user` is a staff account (staff never play)."""
    if is_staff_account(user):
        raise StaffAccountRefused()


@dataclass(frozen=True)
class GateFlag:
    code: str
    detail: str


@dataclass
class GateContext:
    """What a gate sees: the operation, on the compliance row locked in this transaction."""

    operation: str
    player_id: int
    amount: int  # minor units of `currency`
    currency: str
    compliance: Any  # the locked compliance row (kyc.models.AMLProfile)
    now: datetime | None = None
    flags: list[GateFlag] = field(default_factory=list)
    _player: Any = None

    @cached_property
    def player(self):
        """The player (the caller's instance when it passed one; else read once)."""
        if self._player is not None:
            return self._player
        return get_user_model().objects.get(pk=self.player_id)

    def flag(self, code: str, detail: str) -> None:
        """Let the operation through but mark it for staff review."""
        self.flags.append(GateFlag(code=code, detail=detail))


def compliance_row_lock(*, player_id: int):
    """Lock (creating if needed) the player's compliance row in the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("the compliance row is locked inside the calling service's transaction")
    return import_string(settings.COMPLIANCE_ROW_LOCK)(player_id=player_id)


def gates_check(*, operation: str, player_id: int, amount: int, currency: str,
                now: datetime | None = None, player=None) -> GateContext:
    """Lock the player's compliance row and run every registered gate on it.

    Must run inside the money transaction, after the domain rows and before the player's
    accounts are locked. Raises StaffAccountRefused (a staff account acting as a player),
    whatever a gate raises; returns the context (with its flags).
    """
    if str(operation) not in NOT_PLAYER_ACTIONS:
        if player is None:
            player = get_user_model().objects.get(pk=player_id)
        refuse_staff_account(player)
    ctx = GateContext(operation=str(operation), player_id=player_id, amount=amount,
                      currency=currency, compliance=compliance_row_lock(player_id=player_id),
                      now=now, _player=player)
    for path in settings.COMPLIANCE_GATES:
        import_string(path)(ctx)
    return ctx
