"""The posting service and the database's own guarantees behind it."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError

from tests.factories import balances, make_player
from wallet.errors import InsufficientFunds, UnbalancedPostings
from wallet.ledger import Posting, hold_funds, ledger_post, player_accounts, system_account
from wallet.models import Account, AccountKind, Entry, Transaction

pytestmark = pytest.mark.django_db(transaction=True)


def _house(currency="USD"):
    return system_account(AccountKind.HOUSE, currency)


def test_post_updates_balances_chain_and_entries():
    player = make_player(funds={"USD": 1_000})
    with transaction.atomic():
        txn = hold_funds(player_id=player.pk, currency="USD", amount=300, kind="bet_stake",
                         dedupe_key="t1", reference="bet:1")
    assert balances(player) == {"cash": 700, "reserved": 300, "bonus": 0}
    entries = list(Entry.objects.filter(transaction=txn).order_by("account_id"))
    assert sorted(e.amount for e in entries) == [-300, 300]
    assert all(e.hash and len(e.hash) == 64 for e in entries)
    accts = player_accounts(player_id=player.pk, currency="USD")
    assert accts.cash.chain_head == Entry.objects.filter(account=accts.cash).last().hash


def test_overdraft_refused_and_nothing_written():
    player = make_player(funds={"USD": 100})
    before = Transaction.objects.count()
    with pytest.raises(InsufficientFunds), transaction.atomic():
        hold_funds(player_id=player.pk, currency="USD", amount=101, kind="bet_stake",
                   dedupe_key="t2", reference="bet:2")
    assert Transaction.objects.count() == before
    assert balances(player)["cash"] == 100


def test_unbalanced_postings_refused_in_python():
    player = make_player()
    accts = player_accounts(player_id=player.pk, currency="USD")
    with pytest.raises(UnbalancedPostings), transaction.atomic():
        ledger_post(kind="adjustment", postings=[Posting(accts.cash, 5), Posting(_house(), -4)])


def test_unbalanced_transaction_refused_by_database_at_commit():
    player = make_player()
    accts = player_accounts(player_id=player.pk, currency="USD")
    with pytest.raises(DatabaseError, match="does not balance"):
        with transaction.atomic():
            txn = Transaction.objects.create(kind="adjustment")
            Entry.objects.create(transaction=txn, account=accts.cash, currency="USD", amount=5,
                                 balance_after=5)
    assert Transaction.objects.filter(kind="adjustment").count() == 0


@pytest.mark.parametrize("statement", [
    "UPDATE wallet_entry SET amount = amount * 2",
    "DELETE FROM wallet_entry",
    "UPDATE wallet_transaction SET reason = 'edited'",
    "DELETE FROM wallet_transaction",
])
def test_ledger_rows_are_append_only(statement):
    make_player(funds={"USD": 500})
    with pytest.raises(IntegrityError, match="append-only"), connection.cursor() as cur:
        cur.execute(statement)
    assert Entry.objects.filter(amount=500).count() == 1


def test_negative_player_balance_refused_by_check_constraint():
    player = make_player(funds={"USD": 10})
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(owner=player, kind="cash").update(balance=-1)


def test_dedupe_key_allows_one_transaction():
    player = make_player(funds={"USD": 1_000})
    with transaction.atomic():
        hold_funds(player_id=player.pk, currency="USD", amount=1, kind="bet_stake",
                   dedupe_key="same", reference="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        hold_funds(player_id=player.pk, currency="USD", amount=1, kind="bet_stake",
                   dedupe_key="same", reference="x")
    assert balances(player) == {"cash": 999, "reserved": 1, "bonus": 0}


def test_system_accounts_carry_no_materialized_balance():
    player = make_player(funds={"USD": 1_000})
    with transaction.atomic():
        accts = player_accounts(player_id=player.pk, currency="USD")
        ledger_post(kind="bet_settle", postings=[Posting(accts.cash, -250), Posting(_house(), 250)])
    assert Account.objects.get(pk=_house().pk).balance == 0
    assert sum(Entry.objects.filter(account=_house()).values_list("amount", flat=True)) == 250


def test_transaction_row_keeps_its_kind_and_fields_as_written():
    player = make_player(funds={"USD": 1_000})
    staff = make_player()
    with transaction.atomic():
        txn = hold_funds(player_id=player.pk, currency="USD", amount=7, kind="bet_stake",
                         dedupe_key="fields", reference="bet:9", metadata={"leg": 1})
        reversal = ledger_reverse_for_test(txn, staff.pk)
    stored = Transaction.objects.get(pk=txn.pk)
    assert (stored.kind, stored.reference, stored.dedupe_key, stored.metadata) == (
        "bet_stake", "bet:9", "fields", {"leg": 1})
    assert (txn.kind, txn.created_at) == (stored.kind, stored.created_at)
    stored_rev = Transaction.objects.get(pk=reversal.pk)
    assert (stored_rev.kind, stored_rev.reverses_id, stored_rev.created_by_id) == (
        "reversal", txn.pk, staff.pk)
    assert balances(player) == {"cash": 1_000, "reserved": 0, "bonus": 0}


def ledger_reverse_for_test(txn, staff_id):
    from wallet.ledger import ledger_reverse

    return ledger_reverse(original=Transaction.objects.get(pk=txn.pk), created_by_id=staff_id,
                          reason="correction")


def test_batch_posts_what_one_post_at_a_time_would():
    from backoffice.chain import ledger_chain_verify
    from wallet.ledger import PostingRequest, ledger_post_batch, posting_accounts

    first, second = make_player(funds={"USD": 1_000}), make_player(funds={"USD": 1_000})
    a, b = (posting_accounts(player_id=p.pk, currency="USD") for p in (first, second))
    house = _house()
    with transaction.atomic():
        ids = ledger_post_batch([
            PostingRequest(kind="bet_stake", dedupe_key="b1", reference="r1",
                           postings=[Posting(a.cash, -300), Posting(a.reserved, 300)]),
            PostingRequest(kind="bet_stake", dedupe_key="b2",
                           postings=[Posting(b.cash, -500), Posting(b.reserved, 500)]),
            PostingRequest(kind="bet_settle", dedupe_key="b3", metadata={"x": 1},
                           postings=[Posting(a.reserved, -300), Posting(house, 300),
                                     Posting(house, -900), Posting(a.cash, 900)]),
        ])
    assert [t.dedupe_key for t in Transaction.objects.filter(pk__in=ids).order_by("id")] == [
        "b1", "b2", "b3"]
    assert ids == sorted(ids)
    assert Transaction.objects.get(pk=ids[2]).metadata == {"x": 1}
    assert balances(first) == {"cash": 1_600, "reserved": 0, "bonus": 0}
    assert balances(second) == {"cash": 500, "reserved": 500, "bonus": 0}
    # Netted per account, one entry each: the house gets one entry of -600.
    assert sorted(Entry.objects.filter(transaction_id=ids[2]).values_list("amount", flat=True)) == [
        -600, -300, 900]
    assert list(ledger_chain_verify()) == []


def test_batch_overdraft_names_the_refused_request_and_writes_nothing():
    from wallet.ledger import PostingRequest, ledger_post_batch, posting_accounts

    player = make_player(funds={"USD": 1_000})
    accts = posting_accounts(player_id=player.pk, currency="USD")
    before = Transaction.objects.count()
    hold = [Posting(accts.cash, -600), Posting(accts.reserved, 600)]
    with pytest.raises(InsufficientFunds) as refused, transaction.atomic():
        # Each is covered alone; the second is not, after the first.
        ledger_post_batch([PostingRequest(kind="bet_stake", postings=hold),
                           PostingRequest(kind="bet_stake", postings=hold)])
    assert refused.value.request_index == 1
    assert Transaction.objects.count() == before
    assert balances(player) == {"cash": 1_000, "reserved": 0, "bonus": 0}
