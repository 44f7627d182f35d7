"""Tamper evidence: the chain verifier finds the first edited, deleted or reordered row."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from backoffice.chain import ledger_chain_verify
from tests.factories import make_player
from wallet.ledger import hold_funds, player_accounts, release_hold
from wallet.models import Entry

pytestmark = pytest.mark.django_db


def _history(player, n=4):
    for i in range(n):
        with transaction.atomic():
            hold_funds(player_id=player.pk, currency="USD", amount=10 + i, kind="bet_stake",
                       dedupe_key=f"chain-{player.pk}-{i}", reference=f"bet:{i}")
        with transaction.atomic():
            release_hold(player_id=player.pk, currency="USD", amount=10 + i, kind="bet_settle",
                         dedupe_key=f"chain-{player.pk}-{i}-r", reference=f"bet:{i}")


def _behind_the_apps_back(sql, params):
    # What an attacker with database access does: skip the append-only trigger.
    with connection.cursor() as cur:
        # Fire the zero-sum checks of the rows written so far, before they are tampered with
        # (the test runs in one transaction that is checked again at teardown).
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(sql, params)
        cur.execute("SET LOCAL session_replication_role = origin")


def test_intact_ledger_verifies(capsys):
    _history(make_player(funds={"USD": 1_000}))
    assert list(ledger_chain_verify()) == []
    call_command("verify_ledger_chain")
    assert "intact" in capsys.readouterr().out


def test_edited_row_found_at_that_row():
    player = make_player(funds={"USD": 1_000})
    other = make_player(funds={"USD": 1_000})
    _history(player)
    _history(other)
    cash = player_accounts(player_id=player.pk, currency="USD").cash
    entries = list(Entry.objects.filter(account=cash).order_by("id"))
    target = entries[3]
    _behind_the_apps_back("UPDATE wallet_entry SET amount = amount + 1000, "
                          "balance_after = balance_after + 1000 WHERE id = %s", [target.pk])
    breaks = list(ledger_chain_verify())
    assert [(b.account_id, b.entry_id, b.problem) for b in breaks] == [
        (cash.pk, target.pk, "edited")
    ]
    with pytest.raises(CommandError, match="1 broken"):
        call_command("verify_ledger_chain")


def test_deleted_row_found_at_its_successor():
    player = make_player(funds={"USD": 1_000})
    _history(player)
    reserved = player_accounts(player_id=player.pk, currency="USD").reserved
    entries = list(Entry.objects.filter(account=reserved).order_by("id"))
    _behind_the_apps_back("DELETE FROM wallet_entry WHERE id = %s", [entries[2].pk])
    [b] = ledger_chain_verify()
    assert (b.account_id, b.entry_id, b.problem) == (reserved.pk, entries[3].pk,
                                                      "deleted_or_reordered")


def test_reordered_rows_found():
    player = make_player(funds={"USD": 1_000})
    _history(player)
    cash = player_accounts(player_id=player.pk, currency="USD").cash
    a, b = list(Entry.objects.filter(account=cash).order_by("id"))[2:4]
    # Swap the two rows' contents: every row still matches its own hash.
    _behind_the_apps_back(
        "UPDATE wallet_entry e SET transaction_id = s.transaction_id, amount = s.amount, "
        "balance_after = s.balance_after, prev_hash = s.prev_hash, hash = s.hash "
        "FROM wallet_entry s WHERE (e.id, s.id) IN ((%s, %s), (%s, %s))",
        [a.pk, b.pk, b.pk, a.pk],
    )
    [brk] = ledger_chain_verify()
    assert (brk.entry_id, brk.problem) == (a.pk, "deleted_or_reordered")


def test_deleted_tail_found():
    player = make_player(funds={"USD": 1_000})
    _history(player, n=2)
    cash = player_accounts(player_id=player.pk, currency="USD").cash
    last = Entry.objects.filter(account=cash).order_by("id").last()
    _behind_the_apps_back("DELETE FROM wallet_entry WHERE id = %s", [last.pk])
    [b] = ledger_chain_verify()
    assert (b.account_id, b.entry_id, b.problem) == (cash.pk, None, "tail_deleted")
