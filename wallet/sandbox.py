"""Development helper: play the sandbox payment provider's part without signing by hand.

`sandbox_complete` builds the callback the sandbox provider would send for a pending deposit
(`deposit.succeeded` / `deposit.failed`) or an approved, processing withdrawal
(`withdrawal.paid` / `withdrawal.failed`) and applies it through the same code as the signed
webhook (`callback_parse` + `provider_callback_apply`): the ledger, the callback record and
the events are exactly those of a real callback. Refused unless settings.DEV_TOOLS_ENABLED
(on in the dev and test settings only).
"""

from __future__ import annotations

import uuid

from django.utils import timezone

from common.devtools import dev_tools_check, dev_tools_enabled
from common.errors import NotFound
from common.money import format_amount

from .models import Deposit, DepositStatus, Withdrawal, WithdrawalStatus
from .services import CallbackResult, callback_parse, provider_callback_apply


def sandbox_complete(*, reference: str, succeed: bool = True) -> CallbackResult:
    """Complete the sandbox deposit or withdrawal with id `reference`. Raises DevToolsDisabled
    outside dev/test, NotFound for an unknown id."""
    dev_tools_check()
    try:
        key = uuid.UUID(str(reference))
    except ValueError:
        raise NotFound("No such deposit or withdrawal.") from None
    target: Deposit | Withdrawal | None = Deposit.objects.filter(pk=key, provider="sandbox").first()
    if target is not None:
        event = "deposit.succeeded" if succeed else "deposit.failed"
    else:
        target = Withdrawal.objects.filter(pk=key).first()
        if target is None:
            raise NotFound("No such sandbox deposit or withdrawal.")
        event = "withdrawal.paid" if succeed else "withdrawal.failed"
    payload = {
        "event": event, "provider_transaction_id": f"sandbox-{event}-{target.pk}",
        "reference": str(target.pk), "amount": format_amount(target.amount, target.currency),
        "currency": target.currency,
    }
    return provider_callback_apply(provider="sandbox", data=callback_parse(payload),
                                   payload=payload, now=timezone.now())


def sandbox_completable(obj) -> bool:
    """Whether the admin offers the sandbox button for this deposit or withdrawal."""
    if not dev_tools_enabled():
        return False
    if isinstance(obj, Deposit):
        return obj.provider == "sandbox" and obj.status == DepositStatus.PENDING
    return isinstance(obj, Withdrawal) and obj.status == WithdrawalStatus.PROCESSING
