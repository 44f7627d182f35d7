"""Reads. Balances come from the primary's account rows, never a cache."""

from __future__ import annotations

from django.db.models import QuerySet

from .errors import DepositNotFound, RefundNotFound, WithdrawalNotFound
from .models import PLAYER_KINDS, Account, Deposit, Entry, Refund, Withdrawal


def wallet_list(*, player) -> list[dict]:
    """One row per currency the player holds: available (cash), reserved, bonus."""
    rows: dict[str, dict] = {}
    for account in Account.objects.using("default").filter(owner=player, kind__in=PLAYER_KINDS):
        row = rows.setdefault(account.currency, {"currency": account.currency, "available": 0,
                                                 "reserved": 0, "bonus": 0})
        key = {"cash": "available"}.get(account.kind, account.kind)
        row[key] = account.balance
    return [rows[c] for c in sorted(rows)]


def entry_list(*, player) -> QuerySet[Entry]:
    """The player's ledger history: a lag-tolerant read (config.db_router decides)."""
    return (
        Entry.objects
        .filter(account__owner=player)
        .select_related("transaction", "account")
        .order_by("-id")
    )


def withdrawal_list(*, player) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(player=player).order_by("-created_at")


def withdrawal_get(*, player, withdrawal_id) -> Withdrawal:
    """The player's own withdrawal. Raises WithdrawalNotFound (also for another's)."""
    withdrawal = Withdrawal.objects.filter(player=player, pk=withdrawal_id).first()
    if withdrawal is None:
        raise WithdrawalNotFound()
    return withdrawal


def deposit_list(*, player) -> QuerySet[Deposit]:
    return Deposit.objects.filter(player=player).order_by("-created_at")


def deposit_get(*, player, deposit_id) -> Deposit:
    """The player's own deposit. Raises DepositNotFound (also for another's)."""
    deposit = Deposit.objects.filter(player=player, pk=deposit_id).first()
    if deposit is None:
        raise DepositNotFound()
    return deposit


def deposit_for_refund(*, deposit_id) -> Deposit:
    """The deposit a refund would return (staff read, primary: the refund decides on it).
    Raises DepositNotFound."""
    deposit = Deposit.objects.using("default").filter(pk=deposit_id).first()
    if deposit is None:
        raise DepositNotFound()
    return deposit


def refund_get(*, refund_id) -> Refund:
    """Raises RefundNotFound."""
    refund = Refund.objects.using("default").filter(pk=refund_id).first()
    if refund is None:
        raise RefundNotFound()
    return refund


def refund_list(*, player=None, deposit=None) -> QuerySet[Refund]:
    qs = Refund.objects.all()
    if player is not None:
        qs = qs.filter(player=player)
    if deposit is not None:
        qs = qs.filter(deposit=deposit)
    return qs.order_by("-created_at")
