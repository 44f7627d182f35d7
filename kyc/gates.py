"""The KYC app's compliance gate (registered in settings.COMPLIANCE_GATES; see common.gates).

It reads the compliance row the money transaction has locked, so an AML block or a KYC
decision committing meanwhile is ordered with the operation.
"""

from __future__ import annotations

from django.conf import settings

from common.gates import GateContext, Operation
from common.money import base_amount_to_minor

from .errors import AccountRestricted, KYCRequired
from .models import AMLStatus
from .selectors import kyc_is_verified


def kyc_withdrawal_threshold(currency: str) -> int:
    """KYC_WITHDRAWAL_THRESHOLD (in BASE_CURRENCY; "0": always) in minor units of `currency`,
    converted through CURRENCY_RATES and rounded down."""
    return base_amount_to_minor(str(settings.KYC_WITHDRAWAL_THRESHOLD), currency)


def compliance_gate(ctx: GateContext) -> None:
    """Refuse every money operation of a blocked player (a deposit already paid in is credited
    but flagged), and withdrawal requests above the threshold without approved KYC (an
    approval re-checks the block only: an approved KYC application is final).

    Raises AccountRestricted (403 account_restricted), KYCRequired (422 kyc_required).
    """
    if ctx.compliance.status == AMLStatus.BLOCKED:
        if ctx.operation == Operation.DEPOSIT_CREDIT:
            # The provider already holds the player's money: refusing the credit would lose
            # it. It lands in the player's cash, which the block freezes, and waits for review.
            ctx.flag("aml_blocked", "Credited while the player's AML status is blocked.")
            return
        raise AccountRestricted()
    if ctx.operation == Operation.WITHDRAWAL_REQUEST and ctx.amount > kyc_withdrawal_threshold(ctx.currency):
        # KYC decisions take the same compliance row lock, so this read is ordered with them.
        if not kyc_is_verified(player_id=ctx.player_id):
            raise KYCRequired()
