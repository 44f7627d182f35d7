"""Issue 11: the ledger's account-id caches never outlive a rollback. A system or player
account created inside a transaction that rolls back must not stay cached: every later
posting in that currency would fail on the foreign key for the life of the process (the
flaky tests/e2e/test_reconciliation_delivery.py run)."""

import pytest
from django.db import transaction

from tests.factories import balances, make_player
from wallet.ledger import Posting, hold_funds, ledger_post, player_accounts, system_account
from wallet.models import Account, AccountKind, Transaction

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def _credit(player, amount, currency):
    with transaction.atomic():
        accts = player_accounts(player_id=player.pk, currency=currency)
        ledger_post(kind="deposit", reference="test",
                    postings=[Posting(system_account(AccountKind.PROVIDER_CLEARING, currency), -amount),
                              Posting(accts.cash, amount)])


def test_system_account_created_in_a_rolled_back_transaction_is_not_cached():
    player = make_player()
    assert not Account.objects.filter(owner=None, currency="BTC").exists()
    with pytest.raises(Boom), transaction.atomic():
        system_account(AccountKind.PROVIDER_CLEARING, "BTC")
        raise Boom
    assert not Account.objects.filter(owner=None, currency="BTC").exists()

    _credit(player, 5_000, "BTC")  # before the fix: IntegrityError on wallet_entry.account_id
    assert balances(player, "BTC")["cash"] == 5_000
    assert Account.objects.filter(owner=None, kind=AccountKind.PROVIDER_CLEARING,
                                  currency="BTC").count() == 1


def test_player_accounts_created_in_a_rolled_back_transaction_are_not_cached():
    player = make_player()
    with pytest.raises(Boom), transaction.atomic():
        # A first deposit creates the player's EUR accounts; a hold in the same transaction
        # reads their ids for its cache. Then the transaction rolls back.
        accts = player_accounts(player_id=player.pk, currency="EUR")
        ledger_post(kind="deposit", reference="test",
                    postings=[Posting(system_account(AccountKind.PROVIDER_CLEARING, "EUR"), -500),
                              Posting(accts.cash, 500)])
        hold_funds(player_id=player.pk, currency="EUR", amount=100, kind="bet_stake",
                   dedupe_key="stake-0", reference="bet:0")
        raise Boom
    assert not Account.objects.filter(owner=player, currency="EUR").exists()

    _credit(player, 1_000, "EUR")
    with transaction.atomic():  # before the fix: the ids of the rolled-back rows
        hold_funds(player_id=player.pk, currency="EUR", amount=400, kind="bet_stake",
                   dedupe_key="stake-1", reference="bet:1")
    assert balances(player, "EUR") == {"cash": 600, "reserved": 400, "bonus": 0}
    assert Transaction.objects.filter(dedupe_key="stake-1").count() == 1
