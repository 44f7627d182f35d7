"""Money movements with their events, as the money apps write them, for the read-model tests."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from events.relay import event_consume, outbox_relay
from events.services import emit
from wallet.ledger import hold_funds, settle_hold


def deposit(player, amount: int, currency: str = "USD", ptx: str | None = None):
    """A real deposit: created, then confirmed by a (verified) provider callback."""
    from common.money import format_amount
    from wallet.services import CallbackInput, deposit_create, provider_callback_apply

    now = timezone.now()
    dep = deposit_create(player=player, amount=amount, currency=currency, provider="sandbox",
                         now=now)
    ptx = ptx or f"ptx-{uuid.uuid4().hex[:12]}"
    data = CallbackInput(event="deposit.succeeded", provider_transaction_id=ptx,
                         reference=str(dep.pk), amount_raw=format_amount(amount, currency),
                         currency=currency)
    result = provider_callback_apply(provider="sandbox", data=data, payload={}, now=now)
    assert result.status_code == 200, result.body
    from wallet.models import Deposit

    return Deposit.objects.get(pk=dep.pk)


def settled_bet(player, stake: int, payout: int, currency: str = "USD", outcome: str | None = None):
    """Stake held then settled through the ledger, with bet.placed and bet.settled events."""
    bet_id = uuid.uuid4().hex
    outcome = outcome or ("won" if payout else "lost")
    now = timezone.now().isoformat()
    with transaction.atomic():
        hold_funds(player_id=player.pk, currency=currency, amount=stake, kind="bet_stake",
                   dedupe_key=f"t-bet:{bet_id}:stake", reference=f"t-bet:{bet_id}")
        emit(topic="bet.placed", aggregate_type="bet", aggregate_id=bet_id,
                    payload={"bet_id": bet_id, "player_id": player.pk, "currency": currency,
                             "stake": stake, "occurred_at": now})
    with transaction.atomic():
        settle_hold(player_id=player.pk, currency=currency, stake=stake, payout=payout,
                    kind="bet_settle", dedupe_key=f"t-bet:{bet_id}:settle:1",
                    reference=f"t-bet:{bet_id}")
        emit(topic="bet.settled", aggregate_type="bet", aggregate_id=bet_id,
                    payload={"bet_id": bet_id, "player_id": player.pk, "currency": currency,
                             "stake": stake, "payout": payout, "outcome": outcome,
                             "occurred_at": now})
    return bet_id


class Collector:
    """A publisher that keeps deliveries in memory instead of sending them to a broker."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def __call__(self, *, consumer: str, event_id: str) -> None:
        self.sent.append((consumer, event_id))

    def deliver_all(self) -> list[bool]:
        out = [event_consume(consumer=c, event_id=e) for c, e in self.sent]
        self.sent = []
        return out


def relay_and_consume() -> Collector:
    collector = Collector()
    outbox_relay(publish=collector)
    collector.deliver_all()
    return collector


def summary_values(player, currency="USD"):
    from reconciliation.models import PlayerSummary

    s = PlayerSummary.objects.filter(player_id=player.pk, currency=currency).first()
    if s is None:
        return None
    return {"deposits": s.deposits, "withdrawals": s.withdrawals, "stakes": s.stakes,
            "wins": s.wins, "adjustments": s.adjustments, "net": s.net}


def read_model_state():
    """Everything the read models hold, for before/after comparisons."""
    from reconciliation.models import KpiActivePlayer, OperatorDailyKpi, PlayerSummary

    summaries = sorted(PlayerSummary.objects.values_list(
        "player_id", "currency", "deposits", "withdrawals", "stakes", "wins", "adjustments", "net",
        "events_applied"))
    kpis = sorted(OperatorDailyKpi.objects.values_list(
        "day", "currency", "deposits", "withdrawals", "stakes", "payouts", "ggr", "active_players"))
    return summaries, kpis, KpiActivePlayer.objects.count()
