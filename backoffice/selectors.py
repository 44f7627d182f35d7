"""Reads for the backoffice pages: player search, the one-page player view, the dashboard."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.apps import apps
from django.contrib import admin
from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from common.money import format_amount
from users.models import User
from wallet.models import (
    Deposit,
    Entry,
    ProviderCallback,
    Withdrawal,
)
from wallet.selectors import wallet_list

from .audit import historical_sources
from .models import ManualAdjustment

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
