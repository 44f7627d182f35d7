"""Reads of responsible-gambling state."""

from __future__ import annotations

from datetime import datetime

from .models import (
    LIVE_EXCLUSION_STATUSES,
    Exclusion,
    Limit,
    LimitKind,
    LimitStatus,
    Profile,
    RealityCheck,
)


def limit_list(*, player_id: int, include_removed: bool = False) -> list[Limit]:
    qs = Limit.objects.filter(player_id=player_id)
    if not include_removed:
        qs = qs.exclude(status=LimitStatus.REMOVED)
    return list(qs.order_by("kind", "period", "currency", "source"))


def session_time_limits(*, player_id: int) -> list[tuple[str, int]]:
    """(period, seconds) of every session-time limit in force, player's and operator's."""
    return list(
        Limit.objects.filter(player_id=player_id, kind=LimitKind.SESSION_TIME)
        .exclude(status=LimitStatus.REMOVED).values_list("period", "amount")
    )


def effective_limits(*, player_id: int) -> dict[tuple[str, str, str], Limit]:
    """The strictest limit in force per (kind, period, currency)."""
    best: dict[tuple[str, str, str], Limit] = {}
    for limit in limit_list(player_id=player_id):
        key = (limit.kind, limit.period, limit.currency)
        if key not in best or limit.amount < best[key].amount:
            best[key] = limit
    return best


def exclusion_list(*, player_id: int) -> list[Exclusion]:
    return list(Exclusion.objects.filter(player_id=player_id).order_by("-starts_at"))


def exclusion_live_list(*, player_id: int) -> list[Exclusion]:
    return list(Exclusion.objects.filter(player_id=player_id, status__in=LIVE_EXCLUSION_STATUSES))


def profile_get(*, player_id: int) -> Profile:
    return Profile.objects.filter(player_id=player_id).first() or Profile(player_id=player_id)


def reality_check_pending_get(*, session_id) -> RealityCheck | None:
    return RealityCheck.objects.filter(session_id=session_id, acknowledged_at__isnull=True).first()


def exclusions_in_force(*, player_id: int, now: datetime) -> list[Exclusion]:
    return [e for e in exclusion_live_list(player_id=player_id) if e.in_force_at(now)]
