"""Reads for the backoffice pages: player search, the one-page player view, the dashboard."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.apps import apps
from django.contrib import admin
from django.db.models import Count, F, FloatField, Func, Max, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.urls import NoReverseMatch, reverse

from common.money import CURRENCIES, format_amount
from users.models import User
from wallet.models import (
    OPEN_WITHDRAWAL_STATUSES,
    Deposit,
    DepositStatus,
    Entry,
    OutboxEvent,
    ProviderCallback,
    Withdrawal,
)
from wallet.selectors import wallet_list

from .audit import historical_sources
from .models import AdjustmentStatus, ManualAdjustment

# Apps whose player-linked rows appear on the player page (models with a `player` FK).
PLAYER_SECTION_APPS = ["kyc", "betting", "game_sessions", "reconciliation"]
SECTION_ROWS = 25


def _as_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def player_search(*, q: str, limit: int = 50) -> list[User]:
    """Players matching an id, username, email, withdrawal/deposit id or provider txn id."""
    q = q.strip()
    if not q:
        return []
    players = User.objects.filter(is_staff=False)
    ids: set[int] = set()
    if q.isdigit():
        ids |= set(players.filter(pk=int(q)).values_list("pk", flat=True))
    as_uuid = _as_uuid(q)
    if as_uuid is not None:
        ids |= set(Withdrawal.objects.filter(pk=as_uuid).values_list("player_id", flat=True))
        ids |= set(Deposit.objects.filter(pk=as_uuid).values_list("player_id", flat=True))
    ids |= set(Withdrawal.objects.filter(provider_transaction_id=q).values_list("player_id", flat=True))
    ids |= set(Deposit.objects.filter(provider_transaction_id=q).values_list("player_id", flat=True))
    # A callback that named our payment by reference, found by the provider's id.
    for ref in ProviderCallback.objects.filter(provider_transaction_id=q).values_list("reference", flat=True):
        ref_uuid = _as_uuid(ref)
        if ref_uuid is not None:
            ids |= set(Withdrawal.objects.filter(pk=ref_uuid).values_list("player_id", flat=True))
            ids |= set(Deposit.objects.filter(pk=ref_uuid).values_list("player_id", flat=True))
    text = players.filter(Q(username__iexact=q) | Q(email__iexact=q) | Q(username__istartswith=q)
                          | Q(email__istartswith=q)).values_list("pk", flat=True)[:limit]
    ids |= set(text)
    return list(players.filter(pk__in=ids).order_by("username")[:limit])


def _admin_url(obj) -> str | None:
    opts = obj._meta
    if not admin.site.is_registered(type(obj)):
        return None
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return None


def _display(obj, field) -> str:
    value = getattr(obj, field.attname)
    if value is None:
        return ""
    currency = getattr(obj, "currency", None)
    if currency and field.get_internal_type() == "BigIntegerField" and field.name not in ("id",):
        try:
            return format_amount(value, currency)
        except Exception:  # an unknown currency code must not break the page
            return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _player_column(model) -> str | None:
    """The column of `model` that holds a player's id: a `player` FK or a plain player_id."""
    for field in model._meta.concrete_fields:
        if field.name == "player" and field.is_relation and field.related_model is User:
            return field.attname
        if field.attname == "player_id" and not field.is_relation:
            return "player_id"
    return None


def _section(model, column: str, player: User) -> dict:
    """Latest rows of `model` linked to the player, with its most telling columns."""
    wanted = []
    for field in model._meta.concrete_fields:
        if field.attname == column or field.get_internal_type() in ("TextField", "JSONField",
                                                                      "FileField"):
            continue
        if "hash" in field.name or "secret" in field.name or "token" in field.name:
            continue
        wanted.append(field)
    wanted = wanted[:9]
    rows = []
    for obj in model._default_manager.filter(**{column: player.pk}).order_by("-pk")[:SECTION_ROWS]:
        rows.append({"url": _admin_url(obj), "cells": [_display(obj, f) for f in wanted]})
    return {
        "key": model._meta.label_lower,
        "title": str(model._meta.verbose_name_plural).capitalize(),
        "columns": [f.verbose_name for f in wanted],
        "rows": rows,
    }


def player_sections(player: User) -> list[dict]:
    sections = []
    for label in PLAYER_SECTION_APPS:
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        for model in config.get_models():
            column = _player_column(model)
            if column is None or model._meta.pk.attname == column:
                continue  # one-row-per-player models are shown as status fields
            if label == "reconciliation" and model._meta.model_name not in (
                    "discrepancy", "playersummary"):
                continue
            sections.append(_section(model, column, player))
    return sections


def player_status_fields(player: User) -> list[tuple[str, str]]:
    """KYC / AML status-like fields held by one-per-player rows of other apps (e.g. kyc)."""
    out = []
    for label in ("kyc",):
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        for model in config.get_models():
            for field in model._meta.fields:
                if field.is_relation and field.related_model is User and field.name in ("player", "user") \
                        and (field.one_to_one or getattr(field, "unique", False)):
                    obj = model._default_manager.filter(**{field.name: player}).first()
                    for f in model._meta.fields:
                        if f.name.endswith("status"):
                            out.append((f"{model._meta.verbose_name} {f.name}".replace("_", " "),
                                        getattr(obj, f.name, "") if obj else "none"))
        # Latest application status, when applications are per player and not unique.
    return out


def player_history(player: User, *, limit: int = 50) -> list[dict]:
    rows = []
    for model, history, player_field, status_field in historical_sources():
        if player_field is None:
            continue
        qs = history.objects.filter(**{player_field: player.pk}).select_related(
            "history_user").order_by("-history_date")[:limit]
        for rec in qs:
            rows.append({
                "at": rec.history_date, "what": f"{model._meta.verbose_name} {getattr(rec, model._meta.pk.attname)}",
                "status": getattr(rec, status_field, "") if status_field else "",
                "type": {"+": "created", "~": "changed", "-": "deleted"}[rec.history_type],
                "who": rec.history_user.username if rec.history_user else "system",
                "why": rec.history_change_reason or "",
            })
    rows.sort(key=lambda r: r["at"], reverse=True)
    return rows[:limit]


def player_overview(*, player: User) -> dict:
    """Everything about one player, for the one-page view."""
    entries = (
        Entry.objects.filter(account__owner=player)
        .select_related("transaction", "account", "transaction__created_by")
        .order_by("-id")[:50]
    )
    return {
        "player": player,
        "balances": [
            {**w, **{k: format_amount(w[k], w["currency"]) for k in ("available", "reserved", "bonus")}}
            for w in wallet_list(player=player)
        ],
        "status_fields": player_status_fields(player),
        "entries": [
            {"id": e.pk, "at": e.created_at, "kind": e.transaction.kind, "account": e.account.kind,
             "amount": format_amount(e.amount, e.currency), "currency": e.currency,
             "balance_after": format_amount(e.balance_after or 0, e.currency),
             "reference": e.transaction.reference, "txn": e.transaction_id,
             "by": e.transaction.created_by.username if e.transaction.created_by else "",
             "reason": e.transaction.reason}
            for e in entries
        ],
        "withdrawals": list(Withdrawal.objects.filter(player=player).order_by("-created_at")[:SECTION_ROWS]),
        "deposits": list(Deposit.objects.filter(player=player).order_by("-created_at")[:SECTION_ROWS]),
        "adjustments": list(ManualAdjustment.objects.filter(player=player)
                            .select_related("proposed_by", "decided_by")[:SECTION_ROWS]),
        "sections": player_sections(player),
        "history": player_history(player),
    }


# --- dashboard ---------------------------------------------------------------------------

def _series(qs, trunc, field, since, *, value) -> list[tuple[datetime, float]]:
    rows = (
        qs.filter(**{f"{field}__gte": since})
        .annotate(bucket=trunc(field)).values("bucket").annotate(v=value).order_by("bucket")
    )
    return [(r["bucket"], float(r["v"] or 0)) for r in rows]


def dashboard_data(*, now: datetime) -> dict:
    """KPIs and time series for the operations dashboard."""
    day_ago = now - timedelta(hours=24)
    two_weeks = now - timedelta(days=14)
    unsent = OutboxEvent.objects.filter(sent_at__isnull=True)
    oldest_unsent = unsent.order_by("id").values_list("created_at", flat=True).first()
    kpis = [
        ("Players", User.objects.filter(is_staff=False).count()),
        ("Open withdrawals", Withdrawal.objects.filter(status__in=OPEN_WITHDRAWAL_STATUSES).count()),
        ("Adjustments awaiting approval",
         ManualAdjustment.objects.filter(status=AdjustmentStatus.PROPOSED).count()),
        ("Outbox unsent", unsent.count()),
        ("Outbox lag (s)", int((now - oldest_unsent).total_seconds()) if oldest_unsent else 0),
        ("Callbacks needing review", ProviderCallback.objects.filter(needs_review=True).count()),
    ]
    charts = []
    lag_s = Func(F("sent_at") - F("created_at"), template="EXTRACT(EPOCH FROM %(expressions)s)",
                 output_field=FloatField())
    lag = _series(OutboxEvent.objects.filter(sent_at__isnull=False), TruncHour, "created_at",
                  day_ago, value=Max(lag_s))
    charts.append({"title": "Outbox relay lag, max per hour (s, 24 h)", "points": lag})

    discrepancy_model = _optional_model("reconciliation", "Discrepancy")
    if discrepancy_model is not None:
        date_field = next((f for f in ("created_at", "detected_at")
                           if any(x.name == f for x in discrepancy_model._meta.fields)), None)
        if date_field:
            charts.append({"title": "Discrepancies found per day (14 days)",
                           "points": _series(discrepancy_model.objects.all(), TruncDay, date_field,
                                             two_weeks, value=Count("pk"))})
            kpis.append(("Discrepancies (14 days)", sum(
                int(v) for _, v in charts[-1]["points"])))
    charts += _money_flow_charts(now=now, since=two_weeks)
    return {"kpis": kpis + _read_model_kpis(), "charts": charts}


def _money_flow_charts(*, now: datetime, since: datetime) -> list[dict]:
    """Deposits vs withdrawals per day from the reconciliation read model (OperatorDailyKpi),
    falling back to the wallet tables when that app is not installed."""
    try:
        from reconciliation.selectors import operator_kpi_list
    except ImportError:
        operator_kpi_list = None
    per_currency: dict[str, dict[str, list]] = {}
    if operator_kpi_list is not None:
        result = operator_kpi_list(now=now, date_from=since.date())
        for row in sorted(result.rows, key=lambda r: r.day):
            at = datetime.combine(row.day, datetime.min.time(), tzinfo=now.tzinfo)
            scale = 10 ** CURRENCIES[row.currency].exponent if row.currency in CURRENCIES else 1
            series = per_currency.setdefault(row.currency, {"in": [], "out": [], "ggr": []})
            series["in"].append((at, row.deposits / scale))
            series["out"].append((at, row.withdrawals / scale))
            series["ggr"].append((at, row.ggr / scale))
        lag_note = f" - read model {result.lag.total_seconds:.0f}s behind" if result.lag.lagging else ""
    else:
        lag_note = ""
        for currency in ("USD", "EUR"):
            dep = _series(Deposit.objects.filter(status=DepositStatus.SUCCEEDED, currency=currency),
                          TruncDay, "created_at", since, value=Sum("amount"))
            wd = _series(Withdrawal.objects.filter(status="paid", currency=currency), TruncDay,
                         "created_at", since, value=Sum("amount"))
            per_currency[currency] = {"in": [(b, v / 100) for b, v in dep],
                                      "out": [(b, v / 100) for b, v in wd], "ggr": []}
    return [
        {"title": f"Money flow per day, {c}: deposits vs withdrawals (14 days){lag_note}",
         "points": s["in"], "points2": s["out"]}
        for c, s in sorted(per_currency.items())
    ]


def _optional_model(app_label: str, name: str):
    try:
        return apps.get_model(app_label, name)
    except LookupError:
        return None


def _read_model_kpis() -> list[tuple[str, object]]:
    """KPIs the reconciliation read models publish, when that app provides a selector."""
    try:
        from reconciliation import selectors as recon  # noqa: PLC0415
    except ImportError:
        return []
    fn = getattr(recon, "dashboard_kpis", None)
    if fn is None:
        return []
    try:
        return list(fn())
    except Exception:  # the dashboard must render even if a read model is unavailable
        return [("Read models", "unavailable")]
