"""Payment fees: a schedule per provider, operation and currency, quoted when a deposit,
withdrawal or refund is opened and posted to the fees account in the ledger transaction that
completes it.

Rounding rule (integer minor units only): the percentage part is
`amount * percent_bp // 10000` (rounded down), then `fee = max(minimum, that + fixed)`,
then `min(fee, maximum)` when a maximum is set.

Who bears it:
- the player: the fee comes out of what they move. A deposit credits `amount - fee`; a
  withdrawal or refund debits `amount` and the destination receives `amount - fee`. An
  amount that does not exceed the fee is refused (422 `amount_below_fee`).
- the operator: the player moves exactly `amount`; the house pays the fee.

Postings (netted per account by ledger_post): player bears -> payer -fee, fees +fee, where
the payer is the player's cash (deposit) or the provider clearing (what is sent is less);
operator bears -> house -fee, fees +fee. Each fee also writes a `FeeCharge` row in the same
transaction, which reconciliation matches against the fees account's entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import AmountBelowFee
from .ledger import Posting, system_account
from .models import Account, AccountKind, FeeBearer, FeeCharge, FeeSchedule, Transaction


@dataclass(frozen=True)
class FeeQuote:
    amount: int
    fee: int
    bearer: str  # "player", "operator", or "" when no schedule applies
    schedule_id: int | None

    @property
    def net(self) -> int:
        """What the player is credited (deposit) or the destination receives (payout)."""
        return self.amount - self.fee if self.bearer == FeeBearer.PLAYER else self.amount


def fee_compute(*, amount: int, percent_bp: int, fixed: int, minimum: int,
                maximum: int | None) -> int:
    """The fee on `amount` by the rounding rule above (pure, integers only)."""
    fee = max(minimum, amount * percent_bp // 10_000 + fixed)
    if maximum is not None:
        fee = min(fee, maximum)
    return fee


def fee_schedule_active(*, provider: str, operation: str, currency: str) -> FeeSchedule | None:
    return FeeSchedule.objects.using("default").filter(
        provider=provider, operation=operation, currency=currency, active=True).first()


def fee_quote(*, provider: str, operation: str, currency: str, amount: int) -> FeeQuote:
    """Quote the fee an operation of `amount` would carry now. Raises AmountBelowFee."""
    schedule = fee_schedule_active(provider=provider, operation=operation, currency=currency)
    if schedule is None:
        return FeeQuote(amount=amount, fee=0, bearer="", schedule_id=None)
    fee = fee_compute(amount=amount, percent_bp=schedule.percent_bp, fixed=schedule.fixed,
                      minimum=schedule.minimum, maximum=schedule.maximum)
    if schedule.bearer == FeeBearer.PLAYER and fee >= amount:
        raise AmountBelowFee(extra={"fee": fee})
    return FeeQuote(amount=amount, fee=fee, bearer=schedule.bearer if fee else "",
                    schedule_id=schedule.pk if fee else None)


def fee_apply_quote(obj, quote: FeeQuote) -> None:
    """Store the quote on a deposit, withdrawal or refund being opened."""
    obj.fee_amount, obj.fee_bearer, obj.fee_schedule_id = quote.fee, quote.bearer, quote.schedule_id


def fee_postings(obj, *, player_payer: Account) -> list[Posting]:
    """The fee legs for the completing ledger transaction of `obj` (empty without a fee)."""
    if not obj.fee_amount:
        return []
    fees = system_account(AccountKind.FEES, obj.currency)
    payer = (player_payer if obj.fee_bearer == FeeBearer.PLAYER
             else system_account(AccountKind.HOUSE, obj.currency))
    return [Posting(payer, -obj.fee_amount), Posting(fees, obj.fee_amount)]


def fee_record(obj, *, operation: str, txn: Transaction) -> None:
    """Write the FeeCharge of `obj`'s fee in the transaction that posted it."""
    if not obj.fee_amount:
        return
    FeeCharge.objects.create(
        ledger_transaction_id=txn.pk, schedule_id=obj.fee_schedule_id, operation=operation,
        reference=f"{operation}:{obj.pk}", player_id=obj.player_id, currency=obj.currency,
        amount=obj.fee_amount, bearer=obj.fee_bearer,
    )
