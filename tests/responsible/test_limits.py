"""The limit FSM: a decrease applies at once; an increase or removal only after the cooling-off
and the player's confirmation; operator limits with a reason; the strictest applies."""

from __future__ import annotations

import pytest

from responsible import selectors, services
from responsible.errors import CoolingOff, InvalidLimit, NothingPending, ReasonRequired
from responsible.models import Limit, LimitStatus, Source
from tests.factories import make_staff
from users.roles import COMPLIANCE

from .conftest import DAY, HOUR, T0

pytestmark = pytest.mark.django_db


def _set(player, amount, *, now=T0, kind="deposit", period="day", currency="USD"):
    return services.limit_set(player=player, kind=kind, period=period, currency=currency,
                              amount=amount, now=now)


def test_a_new_limit_and_a_decrease_apply_at_once(player):
    change = _set(player, 5000)
    assert change.effect == "applied" and change.limit.amount == 5000
    change = _set(player, 3000, now=T0 + HOUR)
    assert change.effect == "applied"
    limit = Limit.objects.get(pk=change.limit.pk)
    assert (limit.amount, limit.status) == (3000, LimitStatus.ACTIVE)


def test_an_increase_waits_for_the_cooling_off_and_a_confirmation(player):
    limit = _set(player, 1000).limit
    change = _set(player, 9000, now=T0 + HOUR)
    assert change.effect == "pending"
    limit.refresh_from_db()
    # The old amount stays in force meanwhile.
    assert (limit.amount, limit.pending_amount, limit.status) == (1000, 9000, LimitStatus.PENDING)
    assert limit.pending_effective_at == T0 + HOUR + DAY

    with pytest.raises(CoolingOff) as exc:
        services.limit_confirm(player=player, limit_id=limit.pk, now=T0 + HOUR + DAY - HOUR)
    assert exc.value.extra["effective_at"] == (T0 + HOUR + DAY).isoformat()
    limit.refresh_from_db()
    assert limit.amount == 1000

    # After the cooling-off, nothing changes until the player confirms.
    assert Limit.objects.get(pk=limit.pk).amount == 1000
    services.limit_confirm(player=player, limit_id=limit.pk, now=T0 + HOUR + DAY)
    limit.refresh_from_db()
    assert (limit.amount, limit.status, limit.pending_amount) == (9000, LimitStatus.ACTIVE, None)
    reasons = list(limit.history.order_by("history_date").values_list("history_change_reason",
                                                                       flat=True))
    assert reasons[0] == "limit set by player"
    assert reasons[1].startswith("increase requested by player")
    assert reasons[2] == "increase confirmed by player after cooling-off"


def test_a_removal_waits_too_and_a_decrease_meanwhile_cancels_it(player):
    limit = _set(player, 1000).limit
    assert _set(player, None, now=T0).effect == "pending"
    assert _set(player, 500, now=T0 + HOUR).effect == "applied"
    limit.refresh_from_db()
    assert (limit.amount, limit.status, limit.pending_effective_at) == (500, "active", None)
    with pytest.raises(NothingPending):
        services.limit_confirm(player=player, limit_id=limit.pk, now=T0 + 2 * DAY)

    _set(player, None, now=T0 + 2 * DAY)
    services.limit_confirm(player=player, limit_id=limit.pk, now=T0 + 3 * DAY)
    limit.refresh_from_db()
    assert limit.status == LimitStatus.REMOVED
    assert selectors.limit_list(player_id=player.pk) == []


def test_a_pending_change_can_be_cancelled(player):
    limit = _set(player, 1000).limit
    _set(player, 2000, now=T0)
    services.limit_cancel_pending(player=player, limit_id=limit.pk, now=T0 + HOUR)
    limit.refresh_from_db()
    assert (limit.amount, limit.status) == (1000, LimitStatus.ACTIVE)
    with pytest.raises(NothingPending):
        services.limit_confirm(player=player, limit_id=limit.pk, now=T0 + 2 * DAY)


def test_another_players_limit_cannot_be_confirmed(player):
    from tests.factories import make_player

    limit = _set(player, 1000).limit
    _set(player, 2000)
    with pytest.raises(NothingPending):
        services.limit_confirm(player=make_player(), limit_id=limit.pk, now=T0 + 2 * DAY)


def test_operator_limits_need_a_reason_and_the_strictest_applies(player):
    officer = make_staff(COMPLIANCE)
    _set(player, 5000)
    with pytest.raises(ReasonRequired):
        services.limit_impose(player_id=player.pk, kind="deposit", period="day", currency="USD",
                              amount=2000, actor=officer, reason=" ", now=T0)
    imposed = services.limit_impose(player_id=player.pk, kind="deposit", period="day",
                                    currency="USD", amount=2000, actor=officer,
                                    reason="affordability check", now=T0)
    assert (imposed.source, imposed.set_by, imposed.reason) == (Source.OPERATOR, officer,
                                                                 "affordability check")
    best = selectors.effective_limits(player_id=player.pk)[("deposit", "day", "USD")]
    assert best.pk == imposed.pk and best.amount == 2000
    # The player's own, lower limit wins once it is lower.
    _set(player, 1000, now=T0 + HOUR)
    assert selectors.effective_limits(player_id=player.pk)[("deposit", "day", "USD")].amount == 1000
    # Compliance lifts its own limit at once; the player cannot touch it.
    services.limit_lift(limit_id=imposed.pk, actor=officer, reason="review done", now=T0 + DAY)
    imposed.refresh_from_db()
    assert imposed.status == LimitStatus.REMOVED
    with pytest.raises(NothingPending):
        services.limit_confirm(player=player, limit_id=imposed.pk, now=T0 + 3 * DAY)


@pytest.mark.parametrize("kwargs", [
    {"kind": "bogus", "period": "day", "currency": "USD", "amount": 1},
    {"kind": "deposit", "period": "year", "currency": "USD", "amount": 1},
    {"kind": "deposit", "period": "day", "currency": "", "amount": 1},
    {"kind": "session_time", "period": "day", "currency": "USD", "amount": 60},
    {"kind": "deposit", "period": "day", "currency": "USD", "amount": -1},
    {"kind": "deposit", "period": "day", "currency": "USD", "amount": 1.5},
])
def test_bad_limits_are_refused_and_write_nothing(player, kwargs):
    with pytest.raises(InvalidLimit):
        services.limit_set(player=player, now=T0, **kwargs)
    assert Limit.objects.count() == 0
