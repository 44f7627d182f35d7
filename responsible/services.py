"""Every state change of responsible gambling: one function per use case, each owning its
transaction and taking `now` from the caller.

Lock order (the platform's): the player's compliance row first (`compliance_lock`), then the
limit or exclusion row. Closing a live game session after an exclusion runs in the game
session's own service transaction, after this one commits; meanwhile every gate already
refuses play, because the exclusion is committed.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, Sum

from common.db import service_atomic
from common.history import save_with_history
from events.services import emit
from sessions import services as session_services
from sessions.errors import SessionNotLive
from sessions.models import GameRound, GameSession, RoundStatus, SessionStatus

from .errors import (
    CoolingOff,
    ExclusionActive,
    ExclusionNotLiftable,
    ExternallyExcluded,
    InvalidDuration,
    InvalidLimit,
    NothingPending,
    ReasonRequired,
    RegisterError,
    RegisterUnavailable,
)
from .gates import session_time_remaining
from .lock_objects import compliance_lock, exclusion_lock, limit_lock
from .models import (
    LIVE_EXCLUSION_STATUSES,
    Exclusion,
    ExclusionKind,
    ExclusionStatus,
    Limit,
    LimitKind,
    LimitPeriod,
    LimitStatus,
    Profile,
    RealityCheck,
    Source,
)
from .register import register_lookup

logger = logging.getLogger(__name__)


def _cooling_off() -> timedelta:
    return timedelta(hours=settings.RG_LIMIT_COOLING_OFF_H)


def _emit(topic: str, *, player_id: int, aggregate_type: str, aggregate_id, now: datetime,
          **payload) -> None:
    emit(topic=topic, aggregate_type=aggregate_type, aggregate_id=aggregate_id,
                payload={"player_id": player_id, "occurred_at": now.isoformat(), **payload})


def _limit_payload(limit: Limit) -> dict:
    return {"limit_id": limit.pk, "kind": limit.kind, "period": limit.period,
            "currency": limit.currency, "source": limit.source, "amount": limit.amount,
            "status": limit.status, "pending_amount": limit.pending_amount}


def _validate_limit(*, kind: str, period: str, currency: str, amount: int | None) -> None:
    if kind not in LimitKind.values:
        raise InvalidLimit(f"kind must be one of {', '.join(LimitKind.values)}.")
    if period not in LimitPeriod.values:
        raise InvalidLimit(f"period must be one of {', '.join(LimitPeriod.values)}.")
    if (kind == LimitKind.SESSION_TIME) != (currency == ""):
        raise InvalidLimit("Money limits need a currency; session-time limits take none.")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)
                               or amount < 0):
        raise InvalidLimit("The amount must be zero or more.")


# --- limits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitChange:
    limit: Limit
    effect: str  # "applied" (in force now) or "pending" (after cooling-off + confirmation)


def limit_set(*, player, kind: str, period: str, currency: str = "", amount: int | None,
              now: datetime) -> LimitChange:
    """Set, lower, raise or remove (amount None) one of the player's own limits.

    A new limit or a decrease applies at once; an increase or a removal waits for the
    cooling-off (RG_LIMIT_COOLING_OFF_H) and then the player's confirmation, the old amount
    staying in force meanwhile. Raises InvalidLimit, NothingPending (removing nothing).
    """
    _validate_limit(kind=kind, period=period, currency=currency, amount=amount)
    with service_atomic():
        compliance_lock(player.pk)
        limit = (Limit.objects.select_for_update()
                 .filter(player=player, kind=kind, period=period, currency=currency,
                         source=Source.PLAYER).exclude(status=LimitStatus.REMOVED).first())
        if limit is None:
            if amount is None:
                raise NothingPending("You have no such limit to remove.")
            limit = Limit(player=player, kind=kind, period=period, currency=currency,
                          source=Source.PLAYER, amount=amount)
            save_with_history(limit, user=player, reason="limit set by player")
            effect = "applied"
        elif amount is not None and amount <= limit.amount:
            limit.decrease(amount=amount)
            save_with_history(limit, user=player, reason="limit lowered by player (immediate)")
            effect = "applied"
        else:
            limit.request_change(amount=amount, now=now, effective_at=now + _cooling_off())
            what = "removal" if amount is None else "increase"
            save_with_history(limit, user=player,
                              reason=f"{what} requested by player (cooling-off until "
                                     f"{limit.pending_effective_at.isoformat()})")
            effect = "pending"
        _emit("responsible.limit_changed", player_id=player.pk, aggregate_type="limit",
              aggregate_id=limit.pk, now=now, effect=effect, **_limit_payload(limit))
    return LimitChange(limit=limit, effect=effect)


def limit_confirm(*, player, limit_id, now: datetime) -> Limit:
    """Confirm a pending increase or removal once its cooling-off has passed.

    Raises NothingPending (not found, not pending), CoolingOff (409, with `effective_at`).
    """
    with service_atomic():
        compliance_lock(player.pk)
        limit = limit_lock(limit_id, player_id=player.pk)
        if limit is None or limit.source != Source.PLAYER or limit.status != LimitStatus.PENDING:
            raise NothingPending()
        if now < limit.pending_effective_at:
            raise CoolingOff(extra={"effective_at": limit.pending_effective_at.isoformat()})
        if limit.pending_amount is None:
            limit.confirm_removal()
            reason = "removal confirmed by player after cooling-off"
        else:
            limit.confirm_increase()
            reason = "increase confirmed by player after cooling-off"
        save_with_history(limit, user=player, reason=reason)
        _emit("responsible.limit_changed", player_id=player.pk, aggregate_type="limit",
              aggregate_id=limit.pk, now=now, effect="applied", **_limit_payload(limit))
    return limit


def limit_cancel_pending(*, player, limit_id, now: datetime) -> Limit:
    """Withdraw a pending increase or removal. Raises NothingPending."""
    with service_atomic():
        compliance_lock(player.pk)
        limit = limit_lock(limit_id, player_id=player.pk)
        if limit is None or limit.source != Source.PLAYER or limit.status != LimitStatus.PENDING:
            raise NothingPending()
        limit.cancel_pending()
        save_with_history(limit, user=player, reason="pending change cancelled by player")
        _emit("responsible.limit_changed", player_id=player.pk, aggregate_type="limit",
              aggregate_id=limit.pk, now=now, effect="cancelled", **_limit_payload(limit))
    return limit


def _require_reason(reason: str) -> str:
    if not (reason or "").strip():
        raise ReasonRequired()
    return reason.strip()


def limit_impose(*, player_id: int, kind: str, period: str, currency: str = "", amount: int,
                 actor, reason: str, now: datetime) -> Limit:
    """Impose (or change) an operator limit on a player, at once, with a reason (compliance).

    The strictest of the player's and the operator's limit applies. Raises InvalidLimit,
    ReasonRequired.
    """
    reason = _require_reason(reason)
    _validate_limit(kind=kind, period=period, currency=currency, amount=amount)
    if amount is None:
        raise InvalidLimit("An operator limit needs an amount; lift it to remove it.")
    with service_atomic():
        compliance_lock(player_id)
        limit = (Limit.objects.select_for_update()
                 .filter(player_id=player_id, kind=kind, period=period, currency=currency,
                         source=Source.OPERATOR).exclude(status=LimitStatus.REMOVED).first())
        if limit is None:
            limit = Limit(player_id=player_id, kind=kind, period=period, currency=currency,
                          source=Source.OPERATOR, amount=amount, set_by=actor, reason=reason)
        else:
            limit.operator_set(amount=amount, by=actor, reason=reason)
        save_with_history(limit, user=actor, reason=f"imposed by compliance: {reason}")
        _emit("responsible.limit_changed", player_id=player_id, aggregate_type="limit",
              aggregate_id=limit.pk, now=now, effect="applied", **_limit_payload(limit))
    return limit


def limit_lift(*, limit_id, actor, reason: str, now: datetime) -> Limit:
    """Lift an operator-imposed limit (compliance). Players' own limits only they change.

    Raises NothingPending (no such operator limit in force), ReasonRequired.
    """
    reason = _require_reason(reason)
    with service_atomic():
        probe = Limit.objects.filter(pk=limit_id).values_list("player_id", flat=True).first()
        if probe is None:
            raise NothingPending("No such operator limit.")
        compliance_lock(probe)
        limit = limit_lock(limit_id)
        if limit.source != Source.OPERATOR or limit.status == LimitStatus.REMOVED:
            raise NothingPending("No such operator limit in force.")
        limit.operator_lift(by=actor, reason=reason)
        save_with_history(limit, user=actor, reason=f"lifted by compliance: {reason}")
        _emit("responsible.limit_changed", player_id=limit.player_id, aggregate_type="limit",
              aggregate_id=limit.pk, now=now, effect="lifted", **_limit_payload(limit))
    return limit


# --- time-outs and self-exclusions ------------------------------------------------------------


def add_months(when: datetime, months: int) -> datetime:
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def _exclusion_end(*, kind: str, now: datetime, days: int | None, months: int | None,
                   indefinite: bool) -> datetime | None:
    if kind == ExclusionKind.TIMEOUT:
        lo, hi = settings.RG_TIMEOUT_MIN_DAYS, settings.RG_TIMEOUT_MAX_DAYS
        if months is not None or indefinite or not isinstance(days, int) or isinstance(days, bool) \
                or not lo <= days <= hi:
            raise InvalidDuration(f"A time-out lasts {lo} to {hi} days.")
        return now + timedelta(days=days)
    lo, hi = settings.RG_SELF_EXCLUSION_MIN_MONTHS, settings.RG_SELF_EXCLUSION_MAX_MONTHS
    if indefinite:
        if months is not None or days is not None:
            raise InvalidDuration("An indefinite self-exclusion takes no duration.")
        return None
    if days is not None or not isinstance(months, int) or isinstance(months, bool) \
            or not lo <= months <= hi:
        raise InvalidDuration(f"A self-exclusion lasts {lo} to {hi} months, or is indefinite.")
    return add_months(now, months)


def _exclusion_start(*, player_id: int, kind: str, source: str, ends_at, actor, reason: str,
                     now: datetime) -> Exclusion:
    with service_atomic():
        compliance_lock(player_id)
        live = {e.kind: e for e in Exclusion.objects.select_for_update()
                .filter(player_id=player_id, status__in=LIVE_EXCLUSION_STATUSES)}
        for existing in live.values():
            if not existing.in_force_at(now):  # a finished one not yet marked: end it now
                existing.end(now=now)
                save_with_history(existing, reason="ended")
        if kind == ExclusionKind.TIMEOUT and any(e.in_force_at(now) for e in live.values()):
            raise ExclusionActive()
        current = live.get(kind)
        if current is not None and current.in_force_at(now):
            raise ExclusionActive()
        exclusion = Exclusion(player_id=player_id, kind=kind, source=source, starts_at=now,
                              ends_at=ends_at, created_by=actor, reason=reason)
        save_with_history(exclusion, user=actor, reason=reason or f"{kind} started")
        _emit("responsible.exclusion_started", player_id=player_id,
              aggregate_type="exclusion", aggregate_id=exclusion.pk, now=now, kind=kind,
              source=source, ends_at=ends_at.isoformat() if ends_at else None)
    _close_live_sessions(player_id=player_id, actor=actor, now=now,
                         reason=f"{kind.replace('_', '-')} started")
    return exclusion


def _close_live_sessions(*, player_id: int, actor, now: datetime, reason: str) -> int:
    """Close the player's live game session (voiding its open round: the stake returns)."""
    closed = 0
    for session_id in GameSession.objects.filter(player_id=player_id, status=SessionStatus.LIVE) \
            .values_list("pk", flat=True):
        try:
            session_services.game_session_close(session_id=session_id, actor=actor,
                                                reason=reason, now=now)
            closed += 1
        except SessionNotLive:
            pass  # it ended meanwhile; its funds were released by whoever ended it
    return closed


def timeout_start(*, player, days: int, now: datetime) -> Exclusion:
    """Take a time-out of `days` (RG_TIMEOUT_MIN_DAYS..RG_TIMEOUT_MAX_DAYS).

    Raises InvalidDuration, ExclusionActive.
    """
    ends_at = _exclusion_end(kind=ExclusionKind.TIMEOUT, now=now, days=days, months=None,
                             indefinite=False)
    return _exclusion_start(player_id=player.pk, kind=ExclusionKind.TIMEOUT,
                            source=Source.PLAYER, ends_at=ends_at, actor=player,
                            reason="time-out taken by player", now=now)


def self_exclusion_start(*, player, months: int | None = None, indefinite: bool = False,
                         now: datetime) -> Exclusion:
    """Self-exclude for `months` (6..60) or indefinitely. It cannot be lifted early.

    Raises InvalidDuration, ExclusionActive.
    """
    ends_at = _exclusion_end(kind=ExclusionKind.SELF_EXCLUSION, now=now, days=None,
                             months=months, indefinite=indefinite)
    return _exclusion_start(player_id=player.pk, kind=ExclusionKind.SELF_EXCLUSION,
                            source=Source.PLAYER, ends_at=ends_at, actor=player,
                            reason="self-exclusion by player", now=now)


def exclusion_impose(*, player_id: int, kind: str, days: int | None = None,
                     months: int | None = None, indefinite: bool = False, actor, reason: str,
                     now: datetime) -> Exclusion:
    """Impose a time-out or a self-exclusion on a player (compliance), with a reason.

    Raises ReasonRequired, InvalidDuration, ExclusionActive.
    """
    reason = _require_reason(reason)
    if kind not in ExclusionKind.values:
        raise InvalidDuration(f"kind must be one of {', '.join(ExclusionKind.values)}.")
    ends_at = _exclusion_end(kind=kind, now=now, days=days, months=months, indefinite=indefinite)
    return _exclusion_start(player_id=player_id, kind=kind, source=Source.OPERATOR,
                            ends_at=ends_at, actor=actor,
                            reason=f"imposed by compliance: {reason}", now=now)


def self_exclusion_request_return(*, player, now: datetime) -> Exclusion:
    """Ask to reopen the account after a self-exclusion's term; it reopens after
    RG_RETURN_COOLING_OFF_H. An indefinite one may be asked to end after the minimum term.

    Raises ExclusionNotLiftable (still within its term, or nothing to return from).
    """
    with service_atomic():
        compliance_lock(player.pk)
        exclusion = (Exclusion.objects.select_for_update()
                     .filter(player=player, kind=ExclusionKind.SELF_EXCLUSION,
                             status=ExclusionStatus.ACTIVE).first())
        if exclusion is None:
            raise ExclusionNotLiftable("You have no self-exclusion to return from.")
        term_end = exclusion.ends_at or add_months(exclusion.starts_at,
                                                   settings.RG_SELF_EXCLUSION_MIN_MONTHS)
        if now < term_end:
            raise ExclusionNotLiftable(extra={"ends_at": term_end.isoformat()})
        reopen_at = now + timedelta(hours=settings.RG_RETURN_COOLING_OFF_H)
        exclusion.request_return(now=now, reopen_at=reopen_at)
        save_with_history(exclusion, user=player,
                          reason=f"return requested; reopens at {reopen_at.isoformat()}")
        _emit("responsible.exclusion_return_requested", player_id=player.pk,
              aggregate_type="exclusion", aggregate_id=exclusion.pk, now=now,
              reopen_at=reopen_at.isoformat())
    return exclusion


def exclusions_finish(*, now: datetime, limit: int = 1000) -> int:
    """Mark ended the time-outs past their end and the returns past their cooling-off
    (the gates already stopped refusing at that moment). Safe to run twice."""
    candidates = list(
        Exclusion.objects.filter(status__in=LIVE_EXCLUSION_STATUSES)
        .filter(_due(now)).values_list("pk", "player_id")[:limit]
    )
    ended = 0
    for exclusion_id, player_id in candidates:
        with service_atomic():
            compliance_lock(player_id)
            exclusion = exclusion_lock(exclusion_id)
            if exclusion is None or exclusion.status == ExclusionStatus.ENDED \
                    or exclusion.in_force_at(now):
                continue
            exclusion.end(now=now)
            save_with_history(exclusion, reason="ended")
            _emit("responsible.exclusion_ended", player_id=player_id,
                  aggregate_type="exclusion", aggregate_id=exclusion.pk, now=now,
                  kind=exclusion.kind)
            ended += 1
    return ended


def _due(now: datetime) -> Q:
    return (Q(kind=ExclusionKind.TIMEOUT, ends_at__lte=now)
            | Q(status=ExclusionStatus.RETURN_REQUESTED, reopen_at__lte=now))


def excluded_sessions_close(*, now: datetime) -> int:
    """Close live game sessions of players under an exclusion in force (the fallback when
    the close right after the exclusion was lost, e.g. the process died). Safe to repeat."""
    live_players = set(GameSession.objects.filter(status=SessionStatus.LIVE)
                       .values_list("player_id", flat=True))
    closed = 0
    for exclusion in Exclusion.objects.filter(player_id__in=live_players,
                                              status__in=LIVE_EXCLUSION_STATUSES):
        if exclusion.in_force_at(now):
            closed += _close_live_sessions(player_id=exclusion.player_id, actor=None, now=now,
                                           reason=f"{exclusion.kind} in force")
    return closed


# --- external register, limit prompt ----------------------------------------------------------


def register_check_identity(*, email: str, username: str = "") -> None:
    """Refuse a registration found on the external register (fail closed).

    Raises ExternallyExcluded (403), RegisterUnavailable (503).
    """
    try:
        excluded = register_lookup(email=email, username=username)
    except RegisterError:
        logger.warning("exclusion register unavailable at registration")
        raise RegisterUnavailable() from None
    if excluded:
        raise ExternallyExcluded()


def register_check_player(*, player, now: datetime, fail_closed: bool) -> bool:
    """Check the player against the external register and record the answer on their
    profile (under the compliance lock), where the money gates read it. Returns it.

    With fail_closed (deposits) an unavailable register raises RegisterUnavailable; without
    (login) the last recorded answer stands.
    """
    try:
        excluded = register_lookup(email=player.email, username=player.username)
    except RegisterError:
        logger.warning("exclusion register unavailable", extra={"player_id": player.pk})
        if fail_closed:
            raise RegisterUnavailable() from None
        return Profile.objects.filter(player=player, external_excluded=True).exists()
    recorded = Profile.objects.filter(player=player).values_list(
        "external_excluded", "external_checked_at").first()
    fresh = timedelta(seconds=settings.RG_REGISTER_CACHE_S)
    if recorded is not None and recorded[0] == excluded and recorded[1] is not None \
            and now - recorded[1] < fresh:
        return excluded  # the same answer is on record and recent: nothing to write
    with service_atomic():
        compliance_lock(player.pk)
        profile, _ = Profile.objects.select_for_update().get_or_create(player=player)
        if profile.external_excluded != excluded:
            profile.external_excluded = excluded
            profile.external_checked_at = now
            save_with_history(profile, reason=f"external register: excluded={excluded}")
            if excluded:
                _emit("responsible.external_exclusion", player_id=player.pk,
                      aggregate_type="player", aggregate_id=player.pk, now=now)
        else:
            Profile.objects.filter(pk=profile.pk).update(external_checked_at=now)
    if excluded:
        _close_live_sessions(player_id=player.pk, actor=None, now=now,
                             reason="external self-exclusion register")
    return excluded


def limit_prompt_record(*, player, context: str, now: datetime) -> None:
    """Record that the limit prompt was shown (at registration or first deposit), once."""
    if Profile.objects.filter(player=player, limit_prompt_shown_at__isnull=False).exists():
        return
    with service_atomic():
        profile, _ = Profile.objects.select_for_update().get_or_create(player=player)
        if profile.limit_prompt_shown_at is None:
            profile.limit_prompt_shown_at = now
            profile.limit_prompt_context = context
            save_with_history(profile, user=player, reason=f"limit prompt shown at {context}")


def limit_prompt_answer(*, player, answer: str, now: datetime) -> Profile:
    """Record the player's answer to the limit prompt ("set_limits" or "declined")."""
    if answer not in ("set_limits", "declined"):
        raise InvalidLimit('answer must be "set_limits" or "declined".')
    with service_atomic():
        profile, _ = Profile.objects.select_for_update().get_or_create(player=player)
        if profile.limit_prompt_shown_at is None:
            profile.limit_prompt_shown_at = now
            profile.limit_prompt_context = "player"
        profile.limit_prompt_answer = answer
        profile.limit_prompt_answered_at = now
        save_with_history(profile, user=player, reason=f"limit prompt answered: {answer}")
    return profile


# --- reality checks -----------------------------------------------------------------------------


def reality_check_interval_set(*, player, seconds: int | None, now: datetime) -> Profile:
    """Set (or turn off with None) the player's reality-check interval.

    Raises InvalidDuration outside RG_REALITY_CHECK_MIN_S..24 hours.
    """
    lo, hi = settings.RG_REALITY_CHECK_MIN_S, 24 * 3600
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)
                                or not lo <= seconds <= hi):
        raise InvalidDuration(f"The reality-check interval is {lo} to {hi} seconds.")
    with service_atomic():
        compliance_lock(player.pk)
        profile, _ = Profile.objects.select_for_update().get_or_create(player=player)
        profile.reality_check_interval_s = seconds
        save_with_history(profile, user=player, reason=f"reality-check interval: {seconds} s")
    return profile


def reality_check_next_at(*, session: GameSession, interval_s: int | None) -> datetime | None:
    """When the session's next reality check is due (None: off, or one awaits an answer)."""
    if not interval_s:
        return None
    last = session.reality_checks.order_by("-issued_at").first()
    if last is not None and last.acknowledged_at is None:
        return None
    base = last.acknowledged_at if last is not None else session.started_at
    return base + timedelta(seconds=interval_s)


def session_net(*, session_id) -> int:
    """Payouts minus stakes of a session's resolved rounds (minor units)."""
    row = (GameRound.objects.filter(session_id=session_id)
           .exclude(status=RoundStatus.OPEN)
           .aggregate(net=Sum(F("payout") - F("stake"))))
    return row["net"] or 0


def reality_check_issue(*, session_id, now: datetime) -> RealityCheck | None:
    """Issue the session's reality check if one is due; play pauses until it is
    acknowledged. Returns the check (new, or the one still unanswered) or None."""
    with service_atomic():
        session = GameSession.objects.select_for_update().filter(pk=session_id).first()
        if session is None or session.status != SessionStatus.LIVE:
            return None
        pending = session.reality_checks.filter(acknowledged_at__isnull=True).first()
        if pending is not None:
            return pending
        profile = Profile.objects.filter(player_id=session.player_id).first()
        due = reality_check_next_at(session=session,
                                    interval_s=profile.reality_check_interval_s if profile else None)
        if due is None or now < due:
            return None
        check = RealityCheck.objects.create(
            session=session, player_id=session.player_id, issued_at=now,
            elapsed_s=int((now - session.started_at).total_seconds()),
            net=session_net(session_id=session.pk), currency=session.currency,
        )
    return check


def reality_check_acknowledge(*, session_id, player, now: datetime) -> RealityCheck | None:
    """Acknowledge the session's pending reality check; play resumes. Idempotent."""
    with service_atomic():
        session = (GameSession.objects.select_for_update()
                   .filter(pk=session_id, player=player).first())
        if session is None:
            return None
        check = session.reality_checks.filter(acknowledged_at__isnull=True).first()
        if check is None:
            return None
        check.acknowledged_at = now
        check.save(update_fields=["acknowledged_at"])
    return check


def session_time_limit_end(*, session_id, now: datetime) -> bool:
    """End a live session whose player has used up their session time (releasing its funds).
    Returns whether it was ended here."""
    session = GameSession.objects.filter(pk=session_id).first()
    if session is None or session.status != SessionStatus.LIVE:
        return False
    remaining = session_time_remaining(player_id=session.player_id, now=now)
    if remaining is None or remaining > 0:
        return False
    try:
        session_services.game_session_close(session_id=session_id, actor=None,
                                            reason="session time limit reached", now=now)
    except SessionNotLive:
        return False
    return True



@dataclass(frozen=True)
class SessionWatch:
    ended: bool  # the session was ended here (session time used up)
    reality_check: RealityCheck | None  # issued now, or still awaiting an answer
    next_in_s: float | None  # seconds until the next check is due or the session time ends


def session_watch(*, session_id, now: datetime) -> SessionWatch:
    """What the live session socket must do now: end the session when its player's session
    time is used up, send a reality check when one is due, or sleep `next_in_s`."""
    session = GameSession.objects.filter(pk=session_id).first()
    if session is None or session.status != SessionStatus.LIVE:
        return SessionWatch(ended=False, reality_check=None, next_in_s=None)
    if session_time_limit_end(session_id=session_id, now=now):
        return SessionWatch(ended=True, reality_check=None, next_in_s=None)
    check = reality_check_issue(session_id=session_id, now=now)
    waits = []
    remaining = session_time_remaining(player_id=session.player_id, now=now)
    if remaining is not None:
        waits.append(float(remaining))
    profile = Profile.objects.filter(player_id=session.player_id).first()
    due = reality_check_next_at(session=session,
                                interval_s=profile.reality_check_interval_s if profile else None)
    if due is not None:
        waits.append(max((due - now).total_seconds(), 0.0))
    return SessionWatch(ended=False, reality_check=check, next_in_s=min(waits) if waits else None)
