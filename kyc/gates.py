"""Gates the wallet, the sportsbook and the game sessions run before an operation
(registered in settings: WALLET_WITHDRAWAL_GATES, BET_PLACEMENT_GATES, GAME_ROUND_GATES)."""

from __future__ import annotations

from django.conf import settings

from common.money import parse_amount
from wallet.errors import AccountRestricted, KYCRequired

from .models import AMLStatus
from .selectors import aml_status_get, kyc_is_verified


def _refuse_blocked(player) -> None:
    if aml_status_get(player_id=player.pk) == AMLStatus.BLOCKED:
        raise AccountRestricted()


def kyc_withdrawal_threshold(currency: str) -> int:
    """KYC_WITHDRAWAL_THRESHOLD in minor units of `currency` (a decimal string; "0": always)."""
    return parse_amount(str(settings.KYC_WITHDRAWAL_THRESHOLD), currency,
                        field="KYC_WITHDRAWAL_THRESHOLD", allow_zero=True)


def withdrawal_gate(*, player, amount: int, currency: str) -> None:
    """Refuse a withdrawal by a blocked player, or above the threshold without approved KYC.

    Raises AccountRestricted (403 account_restricted), KYCRequired (422 kyc_required).
    """
    _refuse_blocked(player)
    if amount > kyc_withdrawal_threshold(currency) and not kyc_is_verified(player_id=player.pk):
        raise KYCRequired()


def bet_gate(*, player) -> None:
    """Refuse a bet by a blocked player. Raises AccountRestricted."""
    _refuse_blocked(player)


def round_gate(*, player) -> None:
    """Refuse a game round by a blocked player. Raises AccountRestricted."""
    _refuse_blocked(player)
