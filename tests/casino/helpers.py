"""Set-up and checks shared by the casino tests."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from django.utils import timezone

from casino.models import GameLaunch
from casino.services import game_launch
from reconciliation.checks import run_checks
from tests.casino.kit import Player
from wallet.models import Transaction

LEDGER_CHECKS = ["ledger_sums", "negative_balances", "single_posting", "reserved", "casino"]


def launch(user, provider: str, *, currency: str = "USD", game: str = "kit_slot",
           expired: bool = False) -> Player:
    launched = game_launch(player=user, provider=provider, game=game, currency=currency,
                           now=timezone.now())
    if expired:
        GameLaunch.objects.filter(pk=launched.launch.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1))
    return Player(id=user.pk, token=launched.token, currency=currency, game=game)


def expire(player: Player) -> None:
    GameLaunch.objects.filter(player_id=player.id).update(
        expires_at=timezone.now() - timedelta(seconds=1))


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def casino_ledger(user, kind: str) -> int:
    """Ledger transactions of `kind` touching `user`'s accounts."""
    return (Transaction.objects.filter(kind=kind, entries__account__owner=user)
            .distinct().count())


def assert_ledger_reconciles() -> None:
    """Invariants 1-5 on one snapshot (the reconciliation job's own checks): nothing found."""
    findings = run_checks(now=timezone.now(), only=LEDGER_CHECKS)
    assert findings == [], findings


def run_parallel(fns):
    """Run each callable in its own thread, released together by a barrier; return results
    (an exception is returned, not raised)."""
    barrier = threading.Barrier(len(fns))
    results = [None] * len(fns)

    def worker(i):
        try:
            barrier.wait()
            results[i] = fns[i]()
        except Exception as exc:  # noqa: BLE001 - surfaced to the test as a result
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
