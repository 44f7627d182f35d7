"""Every check finds a corruption seeded in the table it names, and only in the status it
names: a check reading the wrong table (or a status string that is not the app's) would
miss the seeded row, or report its decoy in another status."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from backoffice.models import CallbackReview
from betting.models import (
    Bet,
    BetKind,
    BetLeg,
    BetStatus,
    Event,
    Market,
    MarketSettlement,
    MarketStatus,
    OddsChangePolicy,
    Selection,
)
from casino.models import OUTCOME_OK, ProviderTransaction, TxKind, TxStatus
from common.models import IdempotencyRecord
from reconciliation.checks import run_checks
from reconciliation.models import DiscrepancyKind as K
from sessions.models import CloseReason, Game, GameRound, GameSession, RoundStatus, SessionStatus
from tests.factories import make_player, make_staff
from users.roles import PAYMENTS
from wallet.ledger import Posting, ledger_post, player_accounts, system_account
from wallet.models import (
    Account,
    AccountKind,
    Deposit,
    DepositStatus,
    ProviderCallback,
    TransactionKind,
    Withdrawal,
    WithdrawalStatus,
)

pytestmark = pytest.mark.django_db

OLD = timedelta(days=2)


def _drop_constraints(model, contype: str) -> None:
    """Drop the model's CHECK ('c') or UNIQUE ('u') constraints for this test's transaction
    (rolled back with it), as a bad restore or a superuser's hand edit would leave them."""
    table = model._meta.db_table
    with connection.cursor() as cur:
        cur.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
                    "AND contype = %s", [table, contype])
        for (name,) in cur.fetchall():
            cur.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')


def _withdrawal(player, status, *, age=OLD, ptx=""):
    w = Withdrawal.objects.create(player=player, amount=700, currency="USD", destination="x",
                                  status=status, provider_transaction_id=ptx)
    Withdrawal.objects.filter(pk=w.pk).update(updated_at=timezone.now() - age)
    return w


def _session(player, status, *, beat_age=OLD):
    now = timezone.now()
    closed = {} if status == SessionStatus.LIVE else {"closed_at": now,
                                                      "close_reason": CloseReason.SUPERSEDED}
    return GameSession.objects.create(player=player, game=Game.HILO, currency="USD",
                                      status=status, last_heartbeat_at=now - beat_age,
                                      started_at=now - OLD, **closed)


def _round(player, status, *, age=OLD):
    session = _session(player, SessionStatus.CLOSED, beat_age=timedelta(0))
    return GameRound.objects.create(session=session, player=player, client_round_id=uuid.uuid4(),
                                    currency="USD", stake=300, status=status, card=7,
                                    opened_at=timezone.now() - age)


def _market_with_leg(player, *, settlement_version: int, settled_version: int, age=OLD):
    event = Event.objects.create(name=f"e-{uuid.uuid4().hex[:6]}", starts_at=timezone.now())
    market = Market.objects.create(event=event, name="1x2", status=MarketStatus.SETTLED,
                                   settlement_version=settlement_version)
    selection = Selection.objects.create(market=market, name="Home", odds=Decimal("2.000"))
    MarketSettlement.objects.create(market=market, version=1, winning_selection_ids=[selection.pk],
                                    created_at=timezone.now() - age)
    bet = Bet.objects.create(player=player, kind=BetKind.SINGLE, currency="USD", stake=100,
                             accepted_odds=Decimal("2"), odds_change=OddsChangePolicy.NONE,
                             status=BetStatus.WON if settled_version else BetStatus.OPEN)
    BetLeg.objects.create(bet=bet, selection=selection, market=market, event=event,
                          requested_odds=Decimal("2.000"), accepted_odds=Decimal("2.000"),
                          odds_version=1, settled_version=settled_version)
    return market


# --- one seed per corruption: returns the fingerprints the check must report ----------------


def seed_negative_balance():
    _drop_constraints(Account, "c")
    alice = make_player(funds={"USD": 1_000})
    cash = player_accounts(player_id=alice.pk, currency="USD").cash
    Account.objects.filter(pk=cash.pk).update(balance=-5)
    # A system account below zero is not a player's balance (and is never materialized).
    return {f"negative_balance:account:{cash.pk}"}


def seed_duplicate_dedupe_key():
    from wallet.models import Transaction

    _drop_constraints(Transaction, "u")
    house = system_account(AccountKind.HOUSE, "USD")
    clearing = system_account(AccountKind.PROVIDER_CLEARING, "USD")
    for key in ("twice", "twice", "once"):
        with transaction.atomic():
            ledger_post(kind=TransactionKind.ADJUSTMENT, dedupe_key=key,
                        postings=[Posting(house, 10), Posting(clearing, -10)])
    return {"duplicate_dedupe_key:twice"}


def seed_duplicate_provider_txn_in_the_ledger():
    alice = make_player(funds={"USD": 1_000})
    cash = player_accounts(player_id=alice.pk, currency="USD").cash
    clearing = system_account(AccountKind.PROVIDER_CLEARING, "USD")
    for n in (1, 2):
        with transaction.atomic():
            ledger_post(kind=TransactionKind.DEPOSIT, dedupe_key=f"dep:{n}",
                        external_reference="ptx-twice",
                        postings=[Posting(clearing, -50), Posting(cash, 50)])
    # Decoy: adjustments are not postings of a provider transaction, they may share one.
    with transaction.atomic():
        ledger_post(kind=TransactionKind.ADJUSTMENT, dedupe_key="adj", external_reference="ptx-x",
                    postings=[Posting(clearing, -1), Posting(cash, 1)])
        ledger_post(kind=TransactionKind.ADJUSTMENT, dedupe_key="adj2",
                    external_reference="ptx-x", postings=[Posting(clearing, -1), Posting(cash, 1)])
    return {"duplicate_provider_txn:ledger:ptx-twice"}


def seed_duplicate_provider_txn_across_deposits_and_withdrawals():
    alice = make_player()
    Deposit.objects.create(player=alice, amount=100, currency="USD", provider="sandbox",
                           provider_transaction_id="ptx-both", status=DepositStatus.SUCCEEDED)
    _withdrawal(alice, WithdrawalStatus.PAID, ptx="ptx-both")
    return {"duplicate_provider_txn:sandbox:ptx-both"}


def seed_reserved_without_open_bet_or_round():
    alice = make_player(funds={"USD": 5_000})
    # Open holds without their reserved money: an open bet and an open round.
    _market_with_leg(alice, settlement_version=0, settled_version=0, age=timedelta(0))
    _round(alice, RoundStatus.OPEN, age=timedelta(0))
    # Decoys: a settled bet and a resolved round hold nothing.
    _market_with_leg(alice, settlement_version=1, settled_version=1, age=timedelta(0))
    _round(alice, RoundStatus.SETTLED, age=timedelta(0))
    return {f"reserved_mismatch:{alice.pk}:USD"}


def seed_stuck_work():
    alice, staff = make_player(), make_staff(PAYMENTS)
    now = timezone.now()
    found = set()
    for status in DepositStatus:
        d = Deposit.objects.create(player=alice, amount=100, currency="USD", provider="sandbox",
                                   status=status)
        Deposit.objects.filter(pk=d.pk).update(created_at=now - OLD)
        if status == DepositStatus.PENDING:
            found.add(f"stuck_deposit:{d.pk}")
    for status in WithdrawalStatus:
        w = _withdrawal(alice, status)
        if status == WithdrawalStatus.PROCESSING:
            found.add(f"stuck_withdrawal:{w.pk}")
        if status == WithdrawalStatus.APPROVED:
            found.add(f"unsent_withdrawal:{w.pk}")
    for status in RoundStatus:
        r = _round(alice, status)
        if status == RoundStatus.OPEN:
            found.add(f"stuck_round:{r.pk}")
    live = _session(make_player(), SessionStatus.LIVE)
    found.add(f"stale_session:{live.pk}")
    for status in IdempotencyRecord.Status:
        rec = IdempotencyRecord.objects.create(user=alice, key=f"k-{status}", fingerprint="f",
                                               status=status)
        IdempotencyRecord.objects.filter(pk=rec.pk).update(created_at=now - OLD)
        if status == IdempotencyRecord.Status.IN_PROGRESS:
            found.add(f"stuck_idempotency_key:{alice.pk}:k-{status}")
    stuck_market = _market_with_leg(alice, settlement_version=1, settled_version=0)
    _market_with_leg(alice, settlement_version=1, settled_version=1)  # settled: not stuck
    found.add(f"unsettled_market:{stuck_market.pk}")
    callbacks = [ProviderCallback.objects.create(
        provider="sandbox", provider_transaction_id=f"cb-{n}", event="deposit.succeeded",
        reference="r", payload={}, outcome="flagged", needs_review=True,
        received_at=now - OLD) for n in (1, 2)]
    CallbackReview.objects.create(callback=callbacks[1], resolution="no_action", reason="ok",
                                  reviewed_by=staff, reviewed_at=now)
    found.add(f"callback_awaiting_review:{callbacks[0].pk}")
    return found


def seed_casino_posting_mismatch():
    alice = make_player(funds={"USD": 5_000})
    now = timezone.now()
    unposted = dict(provider="hub88", kind=TxKind.BET, player=alice, amount=500, currency="USD",
                    created_at=now)
    ProviderTransaction.objects.create(transaction_id="unposted", outcome_code=OUTCOME_OK,
                                       **unposted)
    # Decoys: a tombstone and a refused call move no money and have no posting.
    ProviderTransaction.objects.create(transaction_id="tomb", status=TxStatus.TOMBSTONE,
                                       outcome_code=OUTCOME_OK, **unposted)
    ProviderTransaction.objects.create(transaction_id="refused", outcome_code="RS_ERROR_LIMIT",
                                       **unposted)
    cash = player_accounts(player_id=alice.pk, currency="USD").cash
    house = system_account(AccountKind.HOUSE, "USD")
    with transaction.atomic():
        orphan = ledger_post(kind=TransactionKind.CASINO_BET, dedupe_key="casino:orphan",
                             external_reference="orphan",
                             postings=[Posting(cash, -200), Posting(house, 200)])
    assert orphan.pk
    return {"casino_ledger_mismatch:hub88:unposted", "casino_ledger_mismatch:ledger:orphan"}


CASES = [
    (seed_negative_balance, "negative_balances", {K.NEGATIVE_BALANCE}),
    (seed_duplicate_dedupe_key, "single_posting", {K.DUPLICATE_DEDUPE_KEY}),
    (seed_duplicate_provider_txn_in_the_ledger, "single_posting", {K.DUPLICATE_PROVIDER_TXN}),
    (seed_duplicate_provider_txn_across_deposits_and_withdrawals, "single_posting",
     {K.DUPLICATE_PROVIDER_TXN}),
    (seed_reserved_without_open_bet_or_round, "reserved", {K.RESERVED_MISMATCH}),
    (seed_stuck_work, "stuck", {K.STUCK_DEPOSIT, K.STUCK_WITHDRAWAL, K.UNSENT_WITHDRAWAL,
                                K.STUCK_ROUND, K.STALE_SESSION, K.STUCK_IDEMPOTENCY_KEY,
                                K.UNSETTLED_MARKET, K.CALLBACK_AWAITING_REVIEW}),
    (seed_casino_posting_mismatch, "casino", {K.CASINO_LEDGER_MISMATCH}),
]


@pytest.mark.parametrize(("seed", "check", "kinds"), CASES, ids=[c[0].__name__ for c in CASES])
def test_each_check_finds_its_seeded_corruption_and_not_its_decoys(seed, check, kinds):
    fingerprints = seed()

    findings = run_checks(now=timezone.now(), only=[check])

    assert {f.fingerprint for f in findings} == fingerprints
    assert {f.kind for f in findings} == kinds


def test_reserved_counts_open_bets_and_rounds_by_source():
    seed_reserved_without_open_bet_or_round()

    (finding,) = run_checks(now=timezone.now(), only=["reserved"])

    assert (finding.expected, finding.actual) == (100 + 300, 0)
    # Raw SQL returns the jsonb as its text.
    assert json.loads(finding.detail["open_holds"]) == {"betting.bet": 1,
                                                        "game_sessions.gameround": 1}
