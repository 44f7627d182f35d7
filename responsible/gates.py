"""The responsible-gambling gate, run inside the money transaction of each operation.

`compliance_gate` is registered in settings.COMPLIANCE_GATES (common.gates): it runs after the
player's compliance row is locked (so no limit or exclusion can change until the operation
commits) and before the player's accounts are locked. A refusal raises, and the caller's
transaction rolls back: nothing is written, the counter increment included.

- `deposit_gate`: a deposit request (exclusions, external register, deposit limits);
- `stake_gate`: a sportsbook bet, a game round stake, a seamless-wallet bet (exclusions,
  external register, wager and loss limits);
- `session_start_gate`: a new game session (exclusions, external register, session time);
- `stake_returned`, `deposit_failed`: money coming back, never refused (wins lower the net
  loss; voids and failed deposits leave the counters they were counted in).

Withdrawals have no gate here: a limit or an exclusion never keeps a player's money.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import DurationField, ExpressionWrapper, F, Sum, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from common.gates import GateContext, Operation
from common.money import format_amount
from sessions.models import GameSession

from .counters import (
    CheckedUsage,
    UsageReturn,
    period_bounds,
    usage_add_and_check,
    usage_return,
    usage_return_many,
)
from .errors import (
    ExternallyExcluded,
    LimitExceeded,
    RealityCheckPending,
    SelfExcluded,
    TimedOut,
)
from .models import Exclusion, LimitKind, Profile, RealityCheck
from .selectors import session_time_limits

_STAKE_KINDS = [LimitKind.WAGER.value, LimitKind.LOSS.value]
_DEPOSIT_KINDS = [LimitKind.DEPOSIT.value]


def _refuse_exclusion(exclusion: str | None, external: bool) -> None:
    if exclusion == "self_exclusion":
        raise SelfExcluded()
    if exclusion == "timeout":
        raise TimedOut()
    if external:
        raise ExternallyExcluded()


def _judge(checked: CheckedUsage, *, add: dict[str, int], currency: str) -> None:
    _refuse_exclusion(checked.exclusion, checked.external_excluded)
    worst = None
    for kind, period, source, amount in checked.limits:
        after = checked.after[f"{kind}_{period}"]
        if after <= amount:
            continue
        remaining = max(amount - (after - add.get(kind, 0)), 0)
        if worst is None or remaining < worst[0]:
            worst = (remaining, kind, period, source, amount)
    if worst is not None:
        remaining, kind, period, source, amount = worst
        raise LimitExceeded(
            f"This would exceed your {period} {kind} limit; "
            f"{format_amount(remaining, currency)} {currency} remains.",
            extra={"limit": {"kind": kind, "period": period, "source": source,
                             "amount": format_amount(amount, currency), "currency": currency},
                   "remaining": format_amount(remaining, currency)},
        )


def deposit_gate(*, player_id: int, amount: int, currency: str, now: datetime) -> None:
    """Count a deposit request against the deposit limits, or refuse it.

    Raises SelfExcluded, TimedOut, ExternallyExcluded (403), LimitExceeded (422).
    """
    add = {"deposit": amount}
    checked = usage_add_and_check(player_id=player_id, currency=currency, now=now, add=add,
                                  kinds=_DEPOSIT_KINDS)
    _judge(checked, add=add, currency=currency)


def stake_gate(*, player_id: int, amount: int, currency: str, now: datetime) -> None:
    """Count a stake against the wager and loss limits, or refuse it.

    A stake counts in full towards the net loss until what it returns is known.
    Raises SelfExcluded, TimedOut, ExternallyExcluded (403), LimitExceeded (422).
    """
    add = {"wager": amount, "loss": amount}
    checked = usage_add_and_check(player_id=player_id, currency=currency, now=now, add=add,
                                  kinds=_STAKE_KINDS)
    _judge(checked, add=add, currency=currency)


def stake_returned(*, player_id: int, currency: str, stake: int, payout: int,
                   staked_at: datetime | None, now: datetime, void: bool = False) -> None:
    """Record what a resolved stake returned. Never refuses.

    A win (or any payout) lowers the net loss of the current period; a void takes the stake
    out of the wager and loss counters of the periods it was counted in.
    """
    if void:
        usage_return(player_id=player_id, currency=currency, now=now, original_at=staked_at,
                     refund={"wager": stake, "loss": stake})
    elif payout:
        usage_return(player_id=player_id, currency=currency, now=now, original_at=None,
                     add={"loss": -payout})


def stakes_returned(*, returns: list[dict], now: datetime) -> None:
    """`stake_returned` for many resolved stakes at once (a batch settlement), each a dict of
    its keyword arguments. Never refuses."""
    usage_return_many(now=now, returns=[
        UsageReturn(player_id=r["player_id"], currency=r["currency"], original_at=r["staked_at"],
                    add={}, refund={"wager": r["stake"], "loss": r["stake"]})
        if r.get("void") else
        UsageReturn(player_id=r["player_id"], currency=r["currency"], original_at=None,
                    add={"loss": -r["payout"]}, refund={})
        for r in returns if r.get("void") or r["payout"]
    ])


def deposit_failed(*, player_id: int, currency: str, amount: int, requested_at: datetime,
                   now: datetime) -> None:
    """Take a failed deposit out of the counters it was counted in. Never refuses."""
    usage_return(player_id=player_id, currency=currency, now=now, original_at=requested_at,
                 refund={"deposit": amount})


def exclusion_in_force(*, player_id: int, now: datetime) -> str | None:
    """The kind of exclusion in force ("self_exclusion" first), or None. Read it under the
    compliance lock to decide on it."""
    live = Exclusion.objects.filter(player_id=player_id, status__in=["active", "return_requested"])
    kinds = {e.kind for e in live if e.in_force_at(now)}
    if "self_exclusion" in kinds:
        return "self_exclusion"
    return "timeout" if "timeout" in kinds else None


def session_time_used(*, player_id: int, period: str, now: datetime) -> int:
    """Seconds the player spent in live game sessions in the calendar period of `now`."""
    start, _ = period_bounds(period, now)
    overlap = ExpressionWrapper(
        Least(F("closed_at"), Value(now)) - Greatest(F("started_at"), Value(start)),
        output_field=DurationField(),
    )
    open_overlap = ExpressionWrapper(Value(now) - Greatest(F("started_at"), Value(start)),
                                     output_field=DurationField())
    base = GameSession.objects.filter(player_id=player_id, started_at__lt=now)
    closed = base.filter(closed_at__gt=start).aggregate(s=Sum(overlap))["s"]
    live = base.filter(closed_at__isnull=True).aggregate(s=Sum(open_overlap))["s"]
    return int(sum(d.total_seconds() for d in (closed, live) if d is not None))


def session_time_remaining(*, player_id: int, now: datetime) -> int | None:
    """Seconds left under the strictest session-time limit, or None without one."""
    remaining = None
    for period, amount in session_time_limits(player_id=player_id):
        left = max(amount - session_time_used(player_id=player_id, period=period, now=now), 0)
        remaining = left if remaining is None else min(remaining, left)
    return remaining


def session_start_gate(*, player_id: int, now: datetime) -> None:
    """Refuse a new game session while excluded or out of session time.

    Raises SelfExcluded, TimedOut, ExternallyExcluded (403), LimitExceeded (422).
    """
    external = Profile.objects.filter(player_id=player_id, external_excluded=True).exists()
    _refuse_exclusion(exclusion_in_force(player_id=player_id, now=now), external)
    remaining = session_time_remaining(player_id=player_id, now=now)
    if remaining is not None and remaining <= 0:
        raise LimitExceeded(
            "Your session time limit is used up for this period.",
            extra={"limit": {"kind": LimitKind.SESSION_TIME.value}, "remaining": "0",
                   "remaining_seconds": 0},
        )



# A new game session: not a money operation of common.gates.Operation, gated the same way.
SESSION_START = "session_start"
_STAKES = {Operation.BET_PLACE, Operation.ROUND_STAKE, Operation.CASINO_BET}


def compliance_gate(ctx: GateContext) -> None:
    """Limits and exclusions on the locked compliance row (see the module docstring).

    Deposits count against deposit limits; bets, round stakes and seamless-wallet bets against
    wager and loss limits; a round stake also waits for an acknowledged reality check and
    stops when session time is used up. A deposit credit and withdrawals pass untouched.
    """
    now = ctx.now or timezone.now()
    if ctx.operation == Operation.DEPOSIT_CREATE:
        deposit_gate(player_id=ctx.player_id, amount=ctx.amount, currency=ctx.currency, now=now)
    elif ctx.operation in _STAKES:
        if ctx.operation == Operation.ROUND_STAKE:
            _round_checks(player_id=ctx.player_id, now=now)
        stake_gate(player_id=ctx.player_id, amount=ctx.amount, currency=ctx.currency, now=now)
    elif ctx.operation == SESSION_START:
        session_start_gate(player_id=ctx.player_id, now=now)


def _round_checks(*, player_id: int, now: datetime) -> None:
    # One live session per player: its unanswered reality check pauses play.
    if RealityCheck.objects.filter(player_id=player_id, acknowledged_at__isnull=True,
                                   session__status="live").exists():
        raise RealityCheckPending()
    remaining = session_time_remaining(player_id=player_id, now=now)
    if remaining is not None and remaining <= 0:
        raise LimitExceeded(
            "Your session time limit is used up for this period.",
            extra={"limit": {"kind": LimitKind.SESSION_TIME.value}, "remaining": "0",
                   "remaining_seconds": 0},
        )
