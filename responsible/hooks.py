"""Entry points the other apps run through settings-registered hook lists (common.hooks),
so the wallet, the sportsbook, the game sessions and users never import this app. The gate
proper is `responsible.gates.compliance_gate` (common.gates).

`stake_returned`, `stakes_returned` and `deposit_failed` run inside the caller's money transaction and never
refuse; the others run before any transaction (they may call the external register).
"""

from __future__ import annotations

from datetime import datetime

from . import gates, services


def stake_returned(*, player_id: int, currency: str, stake: int, payout: int, staked_at,
                   now: datetime, void: bool = False, **_) -> None:
    gates.stake_returned(player_id=player_id, currency=currency, stake=stake, payout=payout,
                         staked_at=staked_at, now=now, void=void)


def stakes_returned(*, returns: list[dict], now: datetime, **_) -> None:
    gates.stakes_returned(returns=returns, now=now)


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
