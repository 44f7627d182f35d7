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


def reality_check_pending_or_none(*, session_id) -> RealityCheck | None:
    return RealityCheck.objects.filter(session_id=session_id, acknowledged_at__isnull=True).first()


def exclusions_in_force(*, player_id: int, now: datetime) -> list[Exclusion]:
    return [e for e in exclusion_live_list(player_id=player_id) if e.in_force_at(now)]


def blocked_by(*, player_id: int, now: datetime) -> str | None:
    """Why gambling is closed for the player now ("self_exclusion", "timeout",
    "external_register"), or None."""
    kinds = {e.kind for e in exclusions_in_force(player_id=player_id, now=now)}
    if "self_exclusion" in kinds:
        return "self_exclusion"
    if "timeout" in kinds:
        return "timeout"
    if Profile.objects.filter(player_id=player_id, external_excluded=True).exists():
        return "external_register"
    return None


def marketing_allowed(*, player_id: int, now: datetime) -> bool:
    """Whether marketing may be sent to the player (never while excluded in any way)."""
    return blocked_by(player_id=player_id, now=now) is None


def player_status(*, player_id: int, now: datetime) -> dict:
    profile = profile_get(player_id=player_id)
    reason = blocked_by(player_id=player_id, now=now)
    return {
        "gambling_allowed": reason is None,
        "marketing_allowed": reason is None,
        "blocked_by": reason,
        "limits": limit_list(player_id=player_id),
        "effective_limits": list(effective_limits(player_id=player_id).values()),
        "exclusions": exclusion_list(player_id=player_id),
        "reality_check_interval_s": profile.reality_check_interval_s,
        "external_excluded": profile.external_excluded,
        "limit_prompt": {
            "shown_at": profile.limit_prompt_shown_at.isoformat()
            if profile.limit_prompt_shown_at else None,
            "context": profile.limit_prompt_context or None,
            "answer": profile.limit_prompt_answer or None,
        },
    }


def player_history(*, player_id: int) -> list[dict]:
    """Every recorded change of the player's limits, exclusions and profile, newest first."""
    rows = []
    for name, model, amount in (("limit", Limit, "amount"), ("exclusion", Exclusion, None),
                                ("profile", Profile, None)):
        for h in model.history.filter(player_id=player_id).select_related("history_user"):
            rows.append({
                "object": name, "object_id": getattr(h, "id", None) or h.player_id,
                "at": h.history_date,
                "by": h.history_user.username if h.history_user else None,
                "status": getattr(h, "status", None),
                "amount": getattr(h, amount) if amount else None,
                "reason": h.history_change_reason,
            })
    return sorted(rows, key=lambda r: r["at"], reverse=True)
