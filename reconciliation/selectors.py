"""Reads of the reconciliation app. Read-model selectors always return their lag with
them, so whoever shows a figure can say when it is behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from common.money import format_amount
from common.replica import replica_lag_seconds

from .models import Alert, Discrepancy, OperatorDailyKpi, PlayerSummary
from .monitoring import consumer_lag
from .readmodels import OPERATOR_KPI, PLAYER_SUMMARY


@dataclass(frozen=True)
class ReadModelLag:
    consumer: str
    lag_seconds: float
    pending_events: int
    threshold_seconds: int
    replica_lag_seconds: float | None

    @property
    def lagging(self) -> bool:
        """True when the figures may be stale enough to warn the reader."""
        return self.pending_events > 0 and self.total_seconds > self.threshold_seconds

    @property
    def total_seconds(self) -> float:
        return self.lag_seconds + (self.replica_lag_seconds or 0.0)

    def as_dict(self) -> dict:
        return {"consumer": self.consumer, "lag_seconds": round(self.total_seconds, 3),
                "pending_events": self.pending_events, "lagging": self.lagging,
                "threshold_seconds": self.threshold_seconds}


def read_model_lag(*, consumer: str, now: datetime) -> ReadModelLag:
    """How far behind one read model is (consumer lag plus replica lag when it is read from
    a replica)."""
    lag = consumer_lag(consumer=consumer, now=now)
    replica = None
    if "replica" in settings.DATABASES:
        replica = replica_lag_seconds()
    return ReadModelLag(consumer, lag.lag_seconds, lag.pending_events,
                        settings.LAG_CONSUMER_S, replica)


@dataclass(frozen=True)
class WithLag:
    rows: list
    lag: ReadModelLag


def player_summary_get(*, player_id: int, now: datetime) -> WithLag:
    """A player's lifetime summaries (one per currency) and the read model's lag."""
    rows = list(PlayerSummary.objects.filter(player_id=player_id).order_by("currency"))
    return WithLag(rows, read_model_lag(consumer=PLAYER_SUMMARY, now=now))


def operator_kpi_list(*, now: datetime, date_from: date | None = None, date_to: date | None = None,
                      currency: str | None = None) -> WithLag:
    """Operator KPIs per day and currency (newest first) and the read model's lag."""
    qs = OperatorDailyKpi.objects.all()
    if date_from:
        qs = qs.filter(day__gte=date_from)
    if date_to:
        qs = qs.filter(day__lte=date_to)
    if currency:
        qs = qs.filter(currency=currency)
    return WithLag(list(qs.order_by("-day", "currency")[:1000]),
                   read_model_lag(consumer=OPERATOR_KPI, now=now))


def discrepancy_list(*, status: str | None = None, kind: str | None = None) -> QuerySet[Discrepancy]:
    qs = Discrepancy.objects.all()
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-last_seen_at", "-id")


def alert_list(*, open_only: bool = True) -> QuerySet[Alert]:
    qs = Alert.objects.all()
    if open_only:
        qs = qs.filter(cleared_at__isnull=True)
    return qs.order_by("-raised_at")


def dashboard_kpis(*, now: datetime | None = None) -> list[tuple[str, object]]:
    """(label, value) pairs for the backoffice dashboard: today's KPIs per currency from the
    read model, with a lag warning when the read model is behind."""


    now = now or timezone.now()
    result = operator_kpi_list(now=now, date_from=now.date(), date_to=now.date())
    out: list[tuple[str, object]] = []
    if result.lag.lagging:
        out.append(("KPIs lagging", f"{result.lag.total_seconds:.0f}s behind, "
                                    f"{result.lag.pending_events} events pending"))
    for row in result.rows:
        c = row.currency
        out.append((f"GGR today ({c})", format_amount(row.ggr, c)))
        out.append((f"Deposits today ({c})", format_amount(row.deposits, c)))
        out.append((f"Active players today ({c})", row.active_players))
    open_count = Discrepancy.objects.exclude(status="resolved").count()
    out.append(("Open discrepancies", open_count))
    out.append(("Open alerts", Alert.objects.filter(cleared_at__isnull=True).count()))
    return out
