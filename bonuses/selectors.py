"""Reads of the bonus app (the player's list, the player page, the audit export)."""

from __future__ import annotations

import json

from django.db import connection
from django.db.models import QuerySet

from wallet.models import Account, AccountKind

from .models import OPEN_BONUS_STATUSES, BonusStake, Campaign, PlayerBonus


def bonus_list(*, player_id: int) -> QuerySet[PlayerBonus]:
    return (PlayerBonus.objects.filter(player_id=player_id).select_related("campaign")
            .order_by("-created_at"))


def bonus_balances(*, player_id: int) -> dict[str, int]:
    """The player's bonus account balance per currency."""
    return dict(Account.objects.filter(owner_id=player_id, kind=AccountKind.BONUS)
                .values_list("currency", "balance"))


def bonus_rows(*, player_id: int) -> list[dict]:
    """Each bonus of a player with its progress and, while open, its current balance."""
    balances = bonus_balances(player_id=player_id)
    out = []
    for pb in bonus_list(player_id=player_id):
        out.append({
            "bonus": pb,
            "campaign": pb.campaign.name,
            "balance": balances.get(pb.currency, 0) if pb.status in OPEN_BONUS_STATUSES else 0,
            "progress_percent": (min(100, pb.wagered * 100 // pb.wagering_required)
                                 if pb.wagering_required else 100),
        })
    return out


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.order_by("-created_at")


def bonus_stakes(*, bonus_id) -> QuerySet[BonusStake]:
    return BonusStake.objects.filter(player_bonus_id=bonus_id).order_by("created_at")


def bonus_tracked_references(*, references: list[str]) -> set[str]:
    """Those of `references` ("bet:<id>", ...) whose stake a bonus tracks (placed while the
    player had an open bonus): their settlement goes through bonuses.services.stake_settle."""
    # One JSON parameter, not one bound parameter per reference (a settlement batch asks
    # about hundreds of bets at once).
    with connection.cursor() as cur:
        cur.execute(f"SELECT reference FROM {BonusStake._meta.db_table} "
                    "WHERE reference IN (SELECT json_array_elements_text(%s::json))",
                    [json.dumps(references)])
        return {row[0] for row in cur.fetchall()}
