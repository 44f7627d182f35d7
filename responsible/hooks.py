"""Entry points the other apps run through settings-registered hook lists (common.gates),
so the wallet, the sportsbook, the game sessions and users never import this app.

In-transaction hooks (`*_locked`) run inside the caller's money transaction, after its
domain rows and before the player's accounts: each first locks the player's compliance row.
The others run before any transaction (they may call the external register).
"""

from __future__ import annotations

from datetime import datetime

from . import gates, services
from .errors import RealityCheckPending
from .lock_objects import compliance_lock
from .models import RealityCheck


def deposit_locked(*, player_id: int, amount: int, currency: str, now: datetime, **_) -> None:
    compliance_lock(player_id)
    gates.deposit_gate(player_id=player_id, amount=amount, currency=currency, now=now)


def stake_locked(*, player_id: int, amount: int, currency: str, now: datetime,
                 session_id=None, **_) -> None:
    compliance_lock(player_id)
    if session_id is not None and RealityCheck.objects.filter(
            session_id=session_id, acknowledged_at__isnull=True).exists():
        raise RealityCheckPending()
    gates.stake_gate(player_id=player_id, amount=amount, currency=currency, now=now)
    if session_id is not None:
        remaining = gates.session_time_remaining(player_id=player_id, now=now)
        if remaining is not None and remaining <= 0:
            gates.session_start_gate(player_id=player_id, now=now)


def session_start_locked(*, player_id: int, now: datetime, **_) -> None:
    compliance_lock(player_id)
    gates.session_start_gate(player_id=player_id, now=now)


def stake_returned(*, player_id: int, currency: str, stake: int, payout: int, staked_at,
                   now: datetime, void: bool = False, **_) -> None:
    gates.stake_returned(player_id=player_id, currency=currency, stake=stake, payout=payout,
                         staked_at=staked_at, now=now, void=void)


def deposit_failed(*, player_id: int, currency: str, amount: int, requested_at,
                   now: datetime, **_) -> None:
    gates.deposit_failed(player_id=player_id, currency=currency, amount=amount,
                         requested_at=requested_at, now=now)


def deposit_precheck(*, player, now: datetime, **_) -> None:
    """Before a deposit's transaction: the external register (fail closed), the limit prompt."""
    services.limit_prompt_record(player=player, context="first_deposit", now=now)
    services.register_check_player(player=player, now=now, fail_closed=True)


def registration_check(*, email: str, username: str, **_) -> None:
    services.register_check_identity(email=email, username=username)


def registered(*, user, now: datetime, **_) -> None:
    services.limit_prompt_record(player=user, context="registration", now=now)


def login(*, user, now: datetime, **_) -> None:
    if not user.is_staff:
        services.register_check_player(player=user, now=now, fail_closed=False)
