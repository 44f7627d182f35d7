"""The ledger invariants and stuck-state checks find each seeded corruption once, rightly
classified, and nothing on a healthy ledger."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from events.models import OutboxEvent
from reconciliation.checks import run_checks
from reconciliation.models import Discrepancy, DiscrepancyKind
from reconciliation.services import reconcile_run
from tests.factories import make_player
from wallet.ledger import Posting, hold_funds, ledger_post, player_accounts, system_account
from wallet.models import Account, AccountKind, Deposit, Withdrawal

from .helpers import deposit, settled_bet

pytestmark = pytest.mark.django_db


def _kinds(findings):
    return sorted(f.kind for f in findings)


def _healthy_ledger():
    alice, bob = make_player(funds={"USD": 20_000}), make_player(funds={"EUR": 5_000})
    deposit(alice, 3_000)
    settled_bet(alice, 1_000, 1_900)
    settled_bet(bob, 400, 0, currency="EUR")
    # An open withdrawal with its hold: reserved equals the open withdrawals.
    w = Withdrawal.objects.create(player=alice, amount=2_000, currency="USD", destination="x")
    with transaction.atomic():
        hold_funds(player_id=alice.pk, currency="USD", amount=2_000, kind="withdrawal_reserve",
                   dedupe_key=f"withdrawal:{w.pk}:reserve", reference=f"withdrawal:{w.pk}")
    OutboxEvent.objects.update(sent_at=timezone.now())
    return alice, bob


def test_a_healthy_ledger_has_no_findings():
    _healthy_ledger()

    assert run_checks(now=timezone.now()) == []


def test_a_balance_edited_behind_the_ledgers_back_is_reported_once():
    alice, _ = _healthy_ledger()
    cash = player_accounts(player_id=alice.pk, currency="USD").cash
    # A superuser's direct UPDATE: the entries do not change, the materialized balance does.
    Account.objects.filter(pk=cash.pk).update(balance=cash.balance + 12_345)

    first = reconcile_run(now=timezone.now())
    second = reconcile_run(now=timezone.now())

    assert (first.findings, first.new, second.new) == (1, 1, 0)
    d = Discrepancy.objects.get()
    assert d.kind == DiscrepancyKind.BALANCE_MISMATCH
    assert (d.player_id, d.currency, d.actual - d.expected, d.seen_count) == (
        alice.pk, "USD", 12_345, 2)
    assert d.history.count() == 1  # created with history; sightings do not add rows


def test_reserved_must_equal_open_withdrawals_bets_and_rounds():
    alice, _ = _healthy_ledger()
    # A hold that no open withdrawal, bet or round explains.
    with transaction.atomic():
        hold_funds(player_id=alice.pk, currency="USD", amount=150, kind="bet_stake",
                   dedupe_key="orphan-hold", reference="orphan")

    findings = run_checks(now=timezone.now(), only=["reserved"])

    assert _kinds(findings) == [DiscrepancyKind.RESERVED_MISMATCH]
    assert (findings[0].expected, findings[0].actual) == (2_000, 2_150)


def test_unbalanced_entries_slipped_past_the_triggers_are_found():
    _healthy_ledger()
    house = system_account(AccountKind.HOUSE, "USD")
    with connection.cursor() as cur:
        # As a superuser restoring a bad dump would: with triggers off.
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("INSERT INTO wallet_transaction (kind, reference, external_reference, reason, "
                    "metadata, created_at) VALUES ('adjustment', 'bad', '', '', '{}', now()) "
                    "RETURNING id")
        txn_id = cur.fetchone()[0]
        cur.execute("INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, "
                    "prev_hash, hash, created_at) VALUES (%s, %s, 'USD', 77, '', '', now())",
                    [txn_id, house.pk])
        cur.execute("SET LOCAL session_replication_role = origin")

    findings = run_checks(now=timezone.now(), only=["ledger_sums"])

    assert _kinds(findings) == [DiscrepancyKind.UNBALANCED_LEDGER,
                                DiscrepancyKind.UNBALANCED_TRANSACTION]
    assert {f.actual for f in findings} == {77}


def test_a_settlement_posted_twice_is_found():
    alice = make_player(funds={"USD": 5_000})
    for n in (1, 2):
        with transaction.atomic():
            hold_funds(player_id=alice.pk, currency="USD", amount=100, kind="round_stake",
                       dedupe_key=f"r:{n}:stake", reference="round:x")
    house = system_account(AccountKind.HOUSE, "USD")
    cash = player_accounts(player_id=alice.pk, currency="USD").cash
    reserved = player_accounts(player_id=alice.pk, currency="USD").reserved
    for n in (1, 2):  # two settlements of one round under different keys
        with transaction.atomic():
            ledger_post(kind="round_settle", dedupe_key=f"r:settle:{n}", reference="round:x",
                        postings=[Posting(reserved, -100), Posting(house, 100),
                                  Posting(house, -50), Posting(cash, 50)])

    findings = run_checks(now=timezone.now(), only=["single_posting"])

    assert _kinds(findings) == [DiscrepancyKind.DUPLICATE_SETTLEMENT]
    assert findings[0].detail["transaction_ids"].__len__() == 2


def test_stuck_states_past_their_age_are_found(settings):
    alice = make_player()
    now = timezone.now()
    old = now - timedelta(hours=3)
    fresh = Deposit.objects.create(player=alice, amount=100, currency="USD", provider="sandbox")
    stuck = Deposit.objects.create(player=alice, amount=200, currency="USD", provider="sandbox")
    Deposit.objects.filter(pk=stuck.pk).update(created_at=old)
    with transaction.atomic():
        from events.services import emit

        emit(topic="test.noop", aggregate_type="t", aggregate_id="1", payload={})
    OutboxEvent.objects.update(created_at=old)

    findings = run_checks(now=now, only=["stuck"])

    assert _kinds(findings) == [DiscrepancyKind.OUTBOX_UNSENT, DiscrepancyKind.STUCK_DEPOSIT]
    assert next(f for f in findings if f.kind == "stuck_deposit").subject == f"deposit {stuck.pk}"
    assert fresh.pk  # the fresh one is not reported


def test_reconcile_command_prints_its_findings(capsys):
    alice, _ = _healthy_ledger()
    cash = player_accounts(player_id=alice.pk, currency="USD").cash
    Account.objects.filter(pk=cash.pk).update(balance=0)

    call_command("reconcile", "--no-progress")

    out = capsys.readouterr().out
    assert "1 findings, 1 new" in out and "balance_mismatch: 1" in out
