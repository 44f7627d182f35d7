"""The usage counters and the in-transaction check behind every money gate.

One statement per money operation: an upsert of the player's `Usage` row for the currency
(which row-locks it, after the compliance row the caller already holds) that rolls each
calendar period over when `now` is in a new one and adds the operation, returning the new
counters together with the limits and exclusions in force. The caller judges them in
Python and raises to refuse, which rolls the whole money transaction back: a refused
operation writes nothing, the counter increment included.

Periods are calendar periods in UTC (docs/responsible-gambling.md): the day, the ISO week
starting Monday, the month. `now` is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection

from common.db import json_rows, json_rows_sql

from .models import LimitPeriod

PERIODS = (LimitPeriod.DAY, LimitPeriod.WEEK, LimitPeriod.MONTH)
METRICS = ("deposit", "wager", "loss")
_CLAMPED = ("deposit", "wager")  # never below zero; a net loss may be


def period_starts(now: datetime) -> dict[str, date]:
    day = now.astimezone(UTC).date()
    return {
        LimitPeriod.DAY: day,
        LimitPeriod.WEEK: day - timedelta(days=day.weekday()),
        LimitPeriod.MONTH: day.replace(day=1),
    }


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the calendar period containing `now`, as UTC datetimes."""
    start = period_starts(now)[period]
    if period == LimitPeriod.DAY:
        end = start + timedelta(days=1)
    elif period == LimitPeriod.WEEK:
        end = start + timedelta(days=7)
    else:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    as_dt = lambda d: datetime(d.year, d.month, d.day, tzinfo=UTC)  # noqa: E731
    return as_dt(start), as_dt(end)


def _column_expr(metric: str, period: str) -> str:
    col = f"{metric}_{period}"
    start = f"{period}_start"
    current = f"CASE WHEN u.{start} = EXCLUDED.{start} THEN u.{col} ELSE 0 END"
    # %(sub_<metric>_<period>)s is the refund of an earlier operation of this same period
    # (zero when that operation belonged to an earlier period, whose counters are gone).
    expr = f"{current} + %(add_{metric})s - %(sub_{col})s"
    if metric in _CLAMPED:
        expr = f"GREATEST({expr}, 0)"
    return f"{col} = {expr}"


_COLUMNS = [f"{m}_{p}" for m in METRICS for p in PERIODS]


def _insert_value(metric: str) -> str:
    return f"GREATEST(%(add_{metric})s, 0)" if metric in _CLAMPED else f"%(add_{metric})s"


_UPSERT = (
    "INSERT INTO responsible_usage AS u (player_id, currency, day_start, week_start, month_start, "
    + ", ".join(_COLUMNS) + ") VALUES (%(player_id)s, %(currency)s, %(day)s, %(week)s, %(month)s, "
    + ", ".join(_insert_value(m) for m in METRICS for _ in PERIODS)
    + ") ON CONFLICT (player_id, currency) DO UPDATE SET "
    + ", ".join(_column_expr(m, p) for m in METRICS for p in PERIODS)
    + ", day_start = EXCLUDED.day_start, week_start = EXCLUDED.week_start, "
    "month_start = EXCLUDED.month_start RETURNING " + ", ".join(_COLUMNS)
)

# The exclusion in force (a self-exclusion before a time-out) and the external register flag.
_EXCLUSION_SQL = """
SELECT (SELECT e.kind FROM responsible_exclusion e
         WHERE e.player_id = %(player_id)s AND e.status IN ('active', 'return_requested')
           AND ((e.kind = 'timeout' AND e.ends_at > %(now)s)
             OR (e.kind = 'self_exclusion' AND (e.status = 'active' OR e.reopen_at > %(now)s)))
         ORDER BY e.kind = 'self_exclusion' DESC LIMIT 1),
       COALESCE((SELECT p.external_excluded FROM responsible_profile p
                  WHERE p.player_id = %(player_id)s), false)
"""

_CHECK_SQL = (
    "WITH nu AS (" + _UPSERT + ") SELECT nu.*, "
    "(SELECT COALESCE(json_agg(json_build_array(l.kind, l.period, l.source, l.amount)), '[]') "
    "   FROM responsible_limit l WHERE l.player_id = %(player_id)s AND l.currency = %(currency)s "
    "    AND l.status <> 'removed' AND l.kind = ANY(%(kinds)s)), x.* "
    "FROM nu, (" + _EXCLUSION_SQL + ") AS x"
)



@dataclass(frozen=True)
class CheckedUsage:
    after: dict[str, int]  # "<metric>_<period>" -> counter including this operation
    limits: list[tuple[str, str, str, int]]  # (kind, period, source, amount) in force
    exclusion: str | None  # "self_exclusion" / "timeout" in force, else None
    external_excluded: bool


def _params(*, player_id: int, currency: str, now: datetime, add: dict[str, int],
            sub: dict[str, int] | None = None) -> dict:
    starts = period_starts(now)
    params = {"player_id": player_id, "currency": currency, "now": now,
              "day": starts[LimitPeriod.DAY], "week": starts[LimitPeriod.WEEK],
              "month": starts[LimitPeriod.MONTH]}
    for metric in METRICS:
        params[f"add_{metric}"] = add.get(metric, 0)
    sub = sub or {}
    for col in _COLUMNS:
        params[f"sub_{col}"] = sub.get(col, 0)
    return params


def usage_add_and_check(*, player_id: int, currency: str, now: datetime, add: dict[str, int],
                        kinds: list[str]) -> CheckedUsage:
    """Add an operation to the counters (row-locking them) and return what to judge it by.

    Must run inside the money transaction, after the player's compliance row is locked.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("usage_add_and_check must run inside the money transaction")
    with connection.cursor() as cur:
        cur.execute(_CHECK_SQL, {**_params(player_id=player_id, currency=currency, now=now,
                                           add=add), "kinds": kinds})
        row = cur.fetchone()
    n = len(_COLUMNS)
    return CheckedUsage(
        after=dict(zip(_COLUMNS, row[:n], strict=True)),
        limits=[tuple(item) for item in row[n]],
        exclusion=row[n + 1],
        external_excluded=bool(row[n + 2]),
    )


def usage_return(*, player_id: int, currency: str, now: datetime, original_at: datetime | None,
                 add: dict[str, int] | None = None, refund: dict[str, int] | None = None) -> None:
    """Record money coming back (a win lowers the net loss of the current period; a void or a
    failed deposit takes its operation out of the counters of the periods it was counted in).
    Never refuses. Runs inside the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("usage_return must run inside the money transaction")
    sub: dict[str, int] = {}
    if refund and original_at is not None:
        then, current = period_starts(original_at), period_starts(now)
        for metric, amount in refund.items():
            for period in PERIODS:
                if then[period] == current[period]:
                    sub[f"{metric}_{period}"] = amount
    with connection.cursor() as cur:
        cur.execute(_UPSERT, _params(player_id=player_id, currency=currency, now=now,
                                     add=add or {}, sub=sub))



@dataclass(frozen=True)
class UsageReturn:
    """One operation's money coming back: the arguments of `usage_return`."""

    player_id: int
    currency: str
    original_at: datetime | None
    add: dict[str, int]
    refund: dict[str, int]


def _many_expr(metric: str, period: str) -> str:
    col = f"{metric}_{period}"
    current = f"CASE WHEN u.{period}_start = %(start_{period})s THEN u.{col} ELSE 0 END"
    expr = f"{current} + v.add_{metric} - v.sub_{col}"
    if metric in _CLAMPED:
        expr = f"GREATEST({expr}, 0)"
    return f"{col} = {expr}"


_MANY_NAMES = [f"add_{m}" for m in METRICS] + [f"sub_{c}" for c in _COLUMNS]
_MANY_VALUES = json_rows_sql(("player_id", "bigint"), ("currency", "varchar"),
                             *((name, "bigint") for name in _MANY_NAMES)) + " AS v"
_MANY_KEYS = json_rows_sql(("player_id", "bigint"), ("currency", "varchar")) + " AS v"
# A missing row starts at zero in the current periods; the UPDATE then adds everything.
_MANY_INSERT = (
    "INSERT INTO responsible_usage (player_id, currency, day_start, week_start, month_start, "
    + ", ".join(_COLUMNS) + ") SELECT v.player_id, v.currency, %(start_day)s, %(start_week)s, "
    "%(start_month)s, " + ", ".join("0" for _ in _COLUMNS)
    + " FROM " + _MANY_KEYS.replace("%s", "%(keys)s") + " ORDER BY v.player_id, v.currency "
    "ON CONFLICT (player_id, currency) DO NOTHING RETURNING player_id, currency"
)
_MANY_LOCK = (
    "SELECT 1 FROM responsible_usage u JOIN " + _MANY_KEYS.replace("%s", "%(keys)s")
    + " ON u.player_id = v.player_id AND u.currency = v.currency "
    "ORDER BY u.player_id, u.currency FOR UPDATE OF u"
)
# What the ON CONFLICT branch of _UPSERT does, for every row at once.
_MANY_UPDATE = (
    "UPDATE responsible_usage AS u SET "
    + ", ".join(_many_expr(m, p) for m in METRICS for p in PERIODS)
    + ", day_start = %(start_day)s, week_start = %(start_week)s, month_start = %(start_month)s "
    "FROM " + _MANY_VALUES.replace("%s", "%(rows)s")
    + " WHERE u.player_id = v.player_id AND u.currency = v.currency"
)


def _subtractions(item: UsageReturn, current: dict[str, date]) -> dict[str, int]:
    sub: dict[str, int] = {}
    if item.refund and item.original_at is not None:
        then = period_starts(item.original_at)
        for metric, amount in item.refund.items():
            for period in PERIODS:
                if then[period] == current[period]:
                    sub[f"sub_{metric}_{period}"] = amount
    return sub


def usage_return_many(*, returns: list[UsageReturn], now: datetime) -> None:
    """`usage_return` for many operations, in order, in three statements (a batch
    settlement): summed per player and currency, rows locked in (player, currency) order.
    Exact for money coming back (additions to the unclamped net loss, refunds that only lower
    counters): as with one call each, the operation that creates a player's row takes no
    refund from it. Never refuses. Runs inside the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("usage_return_many must run inside the money transaction")
    current = period_starts(now)
    per_key: dict[tuple[int, str], list[UsageReturn]] = {}
    for item in returns:
        per_key.setdefault((item.player_id, item.currency), []).append(item)
    if not per_key:
        return
    keys = sorted(per_key)
    params: dict = {"keys": json_rows([list(k) for k in keys]),
                    **{f"start_{p}": current[p] for p in PERIODS}}
    with connection.cursor() as cur:
        cur.execute(_MANY_INSERT, params)
        created = {(player_id, currency) for player_id, currency in cur.fetchall()}
        rows = []
        for key in keys:
            row: dict[str, int] = {}
            for i, item in enumerate(per_key[key]):
                for metric, amount in item.add.items():
                    row[f"add_{metric}"] = row.get(f"add_{metric}", 0) + amount
                if i == 0 and key in created:
                    continue  # the single path's INSERT branch: no refund on a new row
                for name, amount in _subtractions(item, current).items():
                    row[name] = row.get(name, 0) + amount
            rows.append([*key, *(row.get(name, 0) for name in _MANY_NAMES)])
        params["rows"] = json_rows(rows)
        cur.execute(_MANY_LOCK, params)
        cur.execute(_MANY_UPDATE, params)
