"""Reads for the operations dashboard: work queues and their age, Celery liveness, open
alerts, and the time series behind the charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, FloatField, Func, Max, Min
from django.db.models.functions import TruncDay, TruncHour

from common.money import CURRENCIES
from events.models import OutboxEvent, ParkedTask
from kyc.models import KYCApplication, KYCStatus
from reconciliation.liveness import celery_liveness
from reconciliation.models import Alert, Discrepancy
from reconciliation.selectors import dashboard_kpis, operator_kpi_list
from sessions.models import GameSession, SessionStatus
from users.models import User
from wallet.models import OPEN_WITHDRAWAL_STATUSES, ProviderCallback, Withdrawal

from .charts import Series
from .models import AdjustmentStatus, ManualAdjustment

KYC_PENDING = (KYCStatus.SUBMITTED, KYCStatus.IN_REVIEW)


def format_age(seconds: float | None) -> str:
    """'45 s', '12 min', '3 h 05 min', '2 d 4 h'; '-' for nothing waiting."""
    if seconds is None:
        return "-"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


@dataclass(frozen=True)
class Tile:
    label: str
    value: object
    note: str = ""
    alarm: bool = False
    key: str = ""


def _age(now: datetime, oldest: datetime | None) -> float | None:
    return (now - oldest).total_seconds() if oldest else None


def work_queue_tiles(*, now: datetime) -> list[Tile]:
    """What is waiting for people or machines, with how long the oldest has waited."""
    kyc = KYCApplication.objects.filter(status__in=KYC_PENDING).aggregate(
        n=Count("pk"), oldest=Min("submitted_at"))
    wd = Withdrawal.objects.filter(status__in=OPEN_WITHDRAWAL_STATUSES).aggregate(
        n=Count("pk"), oldest=Min("created_at"))
    oldest_wd = (Withdrawal.objects.filter(status__in=OPEN_WITHDRAWAL_STATUSES)
                 .order_by("created_at").values_list("status", flat=True).first())
    unsent = OutboxEvent.objects.filter(sent_at__isnull=True).aggregate(
        n=Count("pk"), oldest=Min("created_at"))
    parked = ParkedTask.objects.filter(requeued_at__isnull=True).aggregate(
        n=Count("pk"), oldest=Min("parked_at"))
    live = GameSession.objects.filter(status=SessionStatus.LIVE).count()
    kyc_age, wd_age = _age(now, kyc["oldest"]), _age(now, wd["oldest"])
    return [
        Tile("KYC backlog", kyc["n"], f"oldest waiting {format_age(kyc_age)}" if kyc["n"] else "",
             alarm=(kyc_age or 0) > 86400, key="kyc_backlog"),
        Tile("Open withdrawals", wd["n"],
             f"oldest {format_age(wd_age)} ({oldest_wd})" if wd["n"] else "",
             alarm=(wd_age or 0) > 86400, key="withdrawals"),
        Tile("Live game sessions", live, key="live_sessions"),
        Tile("Parked tasks", parked["n"],
             f"oldest parked {format_age(_age(now, parked['oldest']))}" if parked["n"] else "",
             alarm=parked["n"] > 0, key="parked_tasks"),
        Tile("Outbox unsent", unsent["n"],
             f"oldest {format_age(_age(now, unsent['oldest']))}" if unsent["n"] else "",
             key="outbox"),
        Tile("Adjustments awaiting approval",
             ManualAdjustment.objects.filter(status=AdjustmentStatus.PROPOSED).count(),
             key="adjustments"),
        Tile("Callbacks needing review",
             ProviderCallback.objects.filter(needs_review=True).count(), key="callbacks"),
        Tile("Players", User.objects.filter(is_staff=False).count(), key="players"),
    ]


def celery_workers(*, now: datetime) -> dict:
    """Each known worker with the age of its last heartbeat, and the last completed probe."""
    snap = celery_liveness(now=now)
    return {
        "error": snap.broker_error,
        "workers": [{"hostname": w.hostname, "age": format_age(w.age_s), "stalled": w.stalled}
                    for w in snap.workers],
        "probe": format_age(snap.probe_age_s) if snap.probe_age_s is not None else "never",
        "beat": format_age(snap.beat_age_s) if snap.beat_age_s is not None else "never seen",
    }


def open_alerts() -> list[Alert]:
    return list(Alert.objects.filter(cleared_at__isnull=True).order_by("-raised_at")[:50])


def _series(qs, trunc, field, since, *, value) -> list[tuple[datetime, float]]:
    rows = (
        qs.filter(**{f"{field}__gte": since})
        .annotate(bucket=trunc(field)).values("bucket").annotate(v=value).order_by("bucket")
    )
    return [(r["bucket"], float(r["v"] or 0)) for r in rows]


def dashboard_charts(*, now: datetime) -> list[dict]:
    """Each chart: title, series, window [start, end], bucket ("hour"/"day") and unit."""
    day_ago = now - timedelta(hours=24)
    two_weeks = (now - timedelta(days=13)).replace(hour=0, minute=0, second=0, microsecond=0)
    lag_s = Func(F("sent_at") - F("created_at"), template="EXTRACT(EPOCH FROM %(expressions)s)",
                 output_field=FloatField())
    charts = [
        {"title": "Outbox relay lag, worst per hour (last 24 h)", "unit": "seconds",
         "bucket": "hour", "start": day_ago, "end": now,
         "series": [Series("", _series(OutboxEvent.objects.filter(sent_at__isnull=False),
                                       TruncHour, "created_at", day_ago, value=Max(lag_s)))]},
        {"title": "Discrepancies found per day (last 14 days)", "unit": "count",
         "bucket": "day", "start": two_weeks, "end": now,
         "series": [Series("", _series(Discrepancy.objects.all(), TruncDay, "detected_at",
                                       two_weeks, value=Count("pk")))]},
    ]
    result = operator_kpi_list(now=now, date_from=two_weeks.date())
    per_currency: dict[str, dict[str, list]] = {}
    for row in sorted(result.rows, key=lambda r: r.day):
        at = datetime.combine(row.day, datetime.min.time(), tzinfo=now.tzinfo)
        scale = 10 ** CURRENCIES[row.currency].exponent if row.currency in CURRENCIES else 1
        series = per_currency.setdefault(row.currency, {"in": [], "out": []})
        series["in"].append((at, row.deposits / scale))
        series["out"].append((at, row.withdrawals / scale))
    lag_note = (f" - read model {result.lag.total_seconds:.0f} s behind"
                if result.lag.lagging else "")
    for currency, s in sorted(per_currency.items()):
        charts.append({"title": f"Money flow per day, {currency} (last 14 days){lag_note}",
                       "unit": currency, "bucket": "day", "start": two_weeks, "end": now,
                       "series": [Series("deposits", s["in"]), Series("withdrawals", s["out"])]})
    return charts


def dashboard_data(*, now: datetime) -> dict:
    """Everything the operations dashboard shows."""
    try:
        read_model_kpis = list(dashboard_kpis(now=now))
    except Exception:  # noqa: BLE001 - the dashboard must render without a read model
        read_model_kpis = [("Read models", "unavailable")]
    return {
        "tiles": work_queue_tiles(now=now),
        "kpis": read_model_kpis,
        "celery": celery_workers(now=now),
        "alerts": open_alerts(),
        "charts": dashboard_charts(now=now),
    }
