"""Read models fed only by outbox events (the query side of CQRS).

Each consumer is a name, the topics it listens to, and an `apply(event)` that changes its
read model with set-based upserts. `events.relay.event_consume` calls `apply`
inside the transaction that also records ProcessedEvent, so an event is applied exactly
once per consumer however often it is delivered. Amount arithmetic follows docs/events.md:
stakes and payouts count at settlement, deposits at deposit.succeeded, withdrawals at
withdrawal.paid; void settlements count neither stake nor payout (their net is zero).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db import connection

from events.registry import Consumer, consumer_register

PLAYER_SUMMARY = "player_summary"
OPERATOR_KPI = "operator_kpi"


def _int(payload: dict, key: str) -> int:
    value = payload.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool):
        # A malformed event must not be half-applied: fail, retry, and park after the cap.
        raise ValueError(f"event payload field {key!r} must be an integer, got {value!r}")
    return value


def _money_deltas(topic: str, payload: dict) -> dict[str, int]:
    """deposits, withdrawals, stakes, payouts, adjustments moved by one event."""
    d = {"deposits": 0, "withdrawals": 0, "stakes": 0, "payouts": 0, "adjustments": 0}
    if topic == "deposit.succeeded":
        d["deposits"] = _int(payload, "amount")
    elif topic == "withdrawal.paid":
        d["withdrawals"] = _int(payload, "amount")
    elif topic in ("bet.settled", "round.settled"):
        if payload.get("outcome") != "void":
            d["stakes"] = _int(payload, "stake")
            d["payouts"] = _int(payload, "payout")
    elif topic == "bet.resettled":
        d["payouts"] = _int(payload, "payout_delta")
    elif topic == "adjustment.posted":
        d["adjustments"] = _int(payload, "amount")
    # Seamless-wallet casino: a provider's bet counts when debited, its win when credited, a
    # rollback takes its stake back out (docs/events.md).
    elif topic == "casino.bet":
        d["stakes"] = _int(payload, "stake")
    elif topic == "casino.win":
        d["payouts"] = _int(payload, "payout")
    elif topic == "casino.rollback":
        d["stakes"] = -_int(payload, "stake")
    return d


def _occurred_at(event) -> datetime:
    raw = event.payload.get("occurred_at")
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
            if parsed.tzinfo is not None:
                return parsed
        except ValueError:
            pass
    return event.created_at


def _utc_day(moment: datetime) -> date:

    return moment.astimezone(UTC).date()


# --- player lifetime summary ----------------------------------------------------------------

_SUMMARY_UPSERT = """
INSERT INTO reconciliation_playersummary AS t
    (player_id, currency, deposits, withdrawals, stakes, wins, adjustments, net,
     events_applied, last_event_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1, %s, now())
ON CONFLICT (player_id, currency) DO UPDATE SET
    deposits = t.deposits + EXCLUDED.deposits,
    withdrawals = t.withdrawals + EXCLUDED.withdrawals,
    stakes = t.stakes + EXCLUDED.stakes,
    wins = t.wins + EXCLUDED.wins,
    adjustments = t.adjustments + EXCLUDED.adjustments,
    net = t.net + EXCLUDED.net,
    events_applied = t.events_applied + 1,
    last_event_at = GREATEST(t.last_event_at, EXCLUDED.last_event_at),
    updated_at = now()
"""


def player_summary_apply(event) -> None:
    payload = event.payload
    d = _money_deltas(event.topic, payload)
    net = d["deposits"] - d["withdrawals"] + d["payouts"] - d["stakes"] + d["adjustments"]
    with connection.cursor() as cur:
        cur.execute(_SUMMARY_UPSERT, [
            _int(payload, "player_id"), str(payload["currency"]), d["deposits"],
            d["withdrawals"], d["stakes"], d["payouts"], d["adjustments"], net,
            _occurred_at(event),
        ])


# --- operator KPIs per day and currency -----------------------------------------------------

_ACTIVITY_TOPICS = frozenset({
    "deposit.succeeded", "withdrawal.paid", "bet.placed", "round.opened", "casino.bet",
})

_KPI_UPSERT = """
INSERT INTO reconciliation_operatordailykpi AS t
    (day, currency, deposits, withdrawals, stakes, payouts, ggr, active_players, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (day, currency) DO UPDATE SET
    deposits = t.deposits + EXCLUDED.deposits,
    withdrawals = t.withdrawals + EXCLUDED.withdrawals,
    stakes = t.stakes + EXCLUDED.stakes,
    payouts = t.payouts + EXCLUDED.payouts,
    ggr = t.ggr + EXCLUDED.ggr,
    active_players = t.active_players + EXCLUDED.active_players,
    updated_at = now()
"""


def operator_kpi_apply(event) -> None:
    payload = event.payload
    day = _utc_day(_occurred_at(event))
    currency = str(payload["currency"])
    d = _money_deltas(event.topic, payload)
    with connection.cursor() as cur:
        newly_active = 0
        if event.topic in _ACTIVITY_TOPICS:
            cur.execute(
                "INSERT INTO reconciliation_kpiactiveplayer (day, currency, player_id) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
                [day, currency, _int(payload, "player_id")],
            )
            newly_active = 1 if cur.fetchone() else 0
        cur.execute(_KPI_UPSERT, [
            day, currency, d["deposits"], d["withdrawals"], d["stakes"], d["payouts"],
            d["stakes"] - d["payouts"], newly_active,
        ])


_SETTLEMENT_TOPICS = {"deposit.succeeded", "withdrawal.paid", "bet.settled", "bet.resettled",
                      "round.settled", "adjustment.posted", "casino.bet", "casino.win",
                      "casino.rollback"}


def consumers_register() -> None:
    """Register this app's read models with the relay (called from AppConfig.ready)."""
    consumer_register(Consumer(PLAYER_SUMMARY, frozenset(_SETTLEMENT_TOPICS),
                               player_summary_apply))
    consumer_register(Consumer(OPERATOR_KPI, frozenset(_SETTLEMENT_TOPICS | _ACTIVITY_TOPICS),
                               operator_kpi_apply))
