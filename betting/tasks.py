"""Celery entry points of the sportsbook: thin, each calls services, each safe to repeat."""

from dataclasses import asdict

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .services import (
    market_settlement_process,
    market_settlement_redrive,
    market_unsettled_bet_ids,
)

_LIMITS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "time_limit": settings.BETTING_SETTLEMENT_TIME_LIMIT_S,
    "soft_time_limit": settings.BETTING_SETTLEMENT_TIME_LIMIT_S - 30,
}


@shared_task(name="betting.market_settlement_run", **_LIMITS)
def market_settlement_run(market_id: int) -> dict:
    """Settle the open bets of a resulted market, fanning big markets out in chunks.

    A run killed midway is simply run again: bets already at the market's current result
    are skipped, and the ledger's dedupe key refuses a second posting of one settlement.
    """
    bet_ids = market_unsettled_bet_ids(market_id=market_id)
    size = settings.BETTING_SETTLEMENT_CHUNK
    if len(bet_ids) <= size:
        return asdict(market_settlement_process(market_id=market_id, now=timezone.now(),
                                                bet_ids=bet_ids))
    for start in range(0, len(bet_ids), size):
        market_settlement_chunk_run.delay(market_id, [str(b) for b in bet_ids[start:start + size]])
    return {"market_id": market_id, "chunks": -(-len(bet_ids) // size)}


@shared_task(name="betting.market_settlement_chunk_run", **_LIMITS)
def market_settlement_chunk_run(market_id: int, bet_ids: list[str]) -> dict:
    """Settle some bets of a resulted market (one transaction per bet; safe to repeat)."""
    return asdict(market_settlement_process(market_id=market_id, now=timezone.now(),
                                            bet_ids=bet_ids))


@shared_task(name="betting.market_settlement_redrive", acks_late=True, soft_time_limit=50,
             time_limit=60)
def market_settlement_redrive_task() -> list[int]:
    """Queue the settlement of resulted markets left with open bets (a lost or killed task)."""
    market_ids = market_settlement_redrive(now=timezone.now(),
                                           idle_s=settings.BETTING_SETTLEMENT_REDRIVE_AFTER_S)
    for market_id in market_ids:
        market_settlement_run.delay(market_id)
    return market_ids
