"""The seamless-wallet conformance kit: every scenario runs against every adapter (sandbox
HMAC contract and Hub88-style RSA contract) over HTTP through a real ASGI server (uvicorn)
and the real PostgreSQL; races use real threads released by a barrier. After each scenario
the reconciliation checks (ledger invariants 1-5) find nothing."""

from __future__ import annotations

import pytest

from casino.models import ProviderTransaction, RoundStatus, TxStatus
from tests.casino.helpers import (
    assert_ledger_reconciles,
    casino_ledger,
    expire,
    launch,
    run_parallel,
    uid,
)
from tests.casino.kit import Hub88Client, SandboxClient, generate_keypair
from tests.factories import balances, make_player

pytestmark = [pytest.mark.e2e]


def cash(user) -> int:
    return balances(user)["cash"]


@pytest.fixture
def funded(live_db):
    return make_player(funds={"USD": 10_000})


def test_duplicate_bet_answers_the_original_and_a_changed_one_is_the_duplicate_error(provider, funded):
    p = launch(funded, provider.name)
    bet, rnd = uid("bet"), uid("round")
    first = provider.bet(p, bet, rnd, 100)
    assert first.ok and first.balance == 9_900
    provider.win(p, uid("win"), bet, rnd, 0, round_closed=False)  # the balance moves on

    again = provider.bet(p, bet, rnd, 100)
    assert again.ok and again.balance == 9_900  # the original answer, balance included
    changed = provider.bet(p, bet, rnd, 200)
    assert not changed.ok and changed.outcome == "duplicate"

    assert cash(funded) == 9_900
    assert casino_ledger(funded, "casino_bet") == 1
    assert ProviderTransaction.objects.filter(transaction_id=bet).count() == 1
    assert_ledger_reconciles()


def test_duplicate_win_is_credited_once(provider, funded):
    p = launch(funded, provider.name)
    bet, win, rnd = uid("bet"), uid("win"), uid("round")
    assert provider.bet(p, bet, rnd, 100).ok
    first = provider.win(p, win, bet, rnd, 500)
    assert first.ok and first.balance == 10_400
    again = provider.win(p, win, bet, rnd, 500)
    assert again.ok and again.balance == 10_400
    changed = provider.win(p, win, bet, rnd, 900)
    assert not changed.ok and changed.outcome == "duplicate"

    assert cash(funded) == 10_400
    assert casino_ledger(funded, "casino_win") == 1
    assert_ledger_reconciles()


def test_rollback_before_bet_leaves_a_tombstone_and_the_late_bet_is_refused(provider, funded):
    p = launch(funded, provider.name)
    bet, rnd = uid("bet"), uid("round")
    rolled = provider.rollback(p, uid("rollback"), bet, rnd)
    assert rolled.ok and rolled.balance == 10_000

    late = provider.bet(p, bet, rnd, 100)
    assert not late.ok and late.outcome == provider.ROLLED_BACK_BET
    assert late.balance == 10_000

    assert cash(funded) == 10_000
    assert casino_ledger(funded, "casino_bet") == 0
    tomb = ProviderTransaction.objects.get(transaction_id=bet)
    assert tomb.status == TxStatus.TOMBSTONE and tomb.ledger_transaction_id is None
    assert_ledger_reconciles()


def test_win_after_rollback_follows_the_provider_rule(provider, funded):
    p = launch(funded, provider.name)
    bet, rnd = uid("bet"), uid("round")
    assert provider.bet(p, bet, rnd, 300).ok
    assert provider.rollback(p, uid("rollback"), bet, rnd).balance == 10_000
    win = provider.win(p, uid("win"), bet, rnd, 900)
    # Both adapters are configured with win_after_rollback=refuse (the default).
    assert not win.ok and win.outcome == provider.ROLLED_BACK_WIN

    assert cash(funded) == 10_000
    assert casino_ledger(funded, "casino_win") == 0
    assert ProviderTransaction.objects.get(transaction_id=bet).round.status == RoundStatus.ROLLED_BACK
    assert_ledger_reconciles()


def test_double_rollback_is_a_no_op(provider, funded):
    p = launch(funded, provider.name)
    bet, rnd, rollback = uid("bet"), uid("round"), uid("rollback")
    assert provider.bet(p, bet, rnd, 250).ok
    assert provider.rollback(p, rollback, bet, rnd).balance == 10_000
    again = provider.rollback(p, rollback, bet, rnd)
    assert again.ok and again.balance == 10_000
    other_id = provider.rollback(p, uid("rollback"), bet, rnd)
    assert other_id.ok and other_id.balance == 10_000

    assert cash(funded) == 10_000
    assert casino_ledger(funded, "casino_rollback") == 1
    assert_ledger_reconciles()


def test_parallel_bet_and_rollback_of_the_same_transaction(provider, funded):
    p = launch(funded, provider.name)
    orders = set()
    for _ in range(8):
        bet, rnd = uid("bet"), uid("round")
        bet_answer, rollback_answer = run_parallel([
            lambda bet=bet, rnd=rnd: provider.bet(p, bet, rnd, 100),
            lambda bet=bet, rnd=rnd: provider.rollback(p, uid("rollback"), bet, rnd),
        ])
        assert not isinstance(bet_answer, Exception), bet_answer
        assert not isinstance(rollback_answer, Exception), rollback_answer
        assert rollback_answer.ok
        if bet_answer.ok:
            orders.add("bet first")
            assert ProviderTransaction.objects.get(transaction_id=bet).status == TxStatus.ROLLED_BACK
        else:
            orders.add("rollback first")
            assert bet_answer.outcome == provider.ROLLED_BACK_BET
            assert ProviderTransaction.objects.get(transaction_id=bet).status == TxStatus.TOMBSTONE
        # Whichever came first, the player has their money and nothing is half done.
        assert cash(funded) == 10_000
    assert casino_ledger(funded, "casino_bet") == casino_ledger(funded, "casino_rollback")
    assert_ledger_reconciles()


def test_bet_beyond_the_balance_is_refused_with_the_balance_and_writes_nothing(provider, funded):
    p = launch(funded, provider.name)
    refused = provider.bet(p, uid("bet"), uid("round"), 10_001)
    assert not refused.ok and refused.outcome == "insufficient_funds"
    assert refused.balance == 10_000
    assert cash(funded) == 10_000
    assert ProviderTransaction.objects.filter(player=funded).count() == 0
    assert casino_ledger(funded, "casino_bet") == 0
    assert_ledger_reconciles()


def test_wrong_currency_is_refused_and_writes_nothing(provider, funded):
    p = launch(funded, provider.name)
    refused = provider.bet(p, uid("bet"), uid("round"), 100, currency="EUR")
    assert not refused.ok and refused.outcome == "wrong_currency"
    assert cash(funded) == 10_000
    assert ProviderTransaction.objects.filter(player=funded).count() == 0
    assert_ledger_reconciles()


def test_expired_token_refuses_a_bet_but_not_a_win_or_rollback(provider, funded):
    p = launch(funded, provider.name)
    bet, rnd = uid("bet"), uid("round")
    assert provider.bet(p, bet, rnd, 100).ok
    other_bet, other_rnd = uid("bet"), uid("round")
    assert provider.bet(p, other_bet, other_rnd, 200).ok
    expire(p)

    refused = provider.bet(p, uid("bet"), uid("round"), 100)
    assert not refused.ok and refused.outcome == "token_expired"
    win = provider.win(p, uid("win"), bet, rnd, 300)
    assert win.ok and win.balance == 10_000 - 100 - 200 + 300
    rollback = provider.rollback(p, uid("rollback"), other_bet, other_rnd)
    assert rollback.ok and rollback.balance == 10_000 - 100 + 300

    assert cash(funded) == 10_200
    assert_ledger_reconciles()


def test_bad_signature_is_refused_and_writes_nothing(provider, funded, hub88_keys, wallet_server):
    p = launch(funded, provider.name)
    garbage = provider.bet(p, uid("bet"), uid("round"), 100, signature="not-a-signature")
    assert not garbage.ok and garbage.outcome == "bad_signature"
    if isinstance(provider, SandboxClient):
        stale = provider.bet(p, uid("bet"), uid("round"), 100, timestamp=0)
        wrong_secret = SandboxClient(wallet_server, secret="someone-else").bet(
            p, uid("bet"), uid("round"), 100)
    else:
        stale = Hub88Client(wallet_server, generate_keypair()[0]).bet(
            p, uid("bet"), uid("round"), 100)
        wrong_secret = provider.post("transaction/bet", {"token": p.token},
                                   signature=provider.sign(b"another body"))
    assert not stale.ok and stale.outcome == "bad_signature"
    assert not wrong_secret.ok and wrong_secret.outcome == "bad_signature"

    assert cash(funded) == 10_000
    assert ProviderTransaction.objects.filter(player=funded).count() == 0
    assert_ledger_reconciles()


def test_parallel_bets_against_the_balance(provider):
    user = make_player(funds={"USD": 1_000})
    p = launch(user, provider.name)
    answers = run_parallel([
        (lambda i=i: provider.bet(p, uid(f"bet{i}"), uid("round"), 300)) for i in range(8)
    ])
    assert not [a for a in answers if isinstance(a, Exception)], answers
    accepted = [a for a in answers if a.ok]
    refused = [a for a in answers if not a.ok]
    assert len(accepted) == 3
    assert {a.outcome for a in refused} == {"insufficient_funds"}
    assert sorted(a.balance for a in accepted) == [100, 400, 700]
    assert cash(user) == 100
    assert casino_ledger(user, "casino_bet") == 3
    assert ProviderTransaction.objects.filter(player=user).count() == 3
    assert_ledger_reconciles()


def test_parallel_retries_of_one_bet_debit_once(provider, funded):
    p = launch(funded, provider.name)
    bet, rnd = uid("bet"), uid("round")
    answers = run_parallel([lambda: provider.bet(p, bet, rnd, 700) for _ in range(6)])
    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert all(a.ok for a in answers), answers
    assert {a.balance for a in answers} == {9_300}  # every retry gets the original answer
    assert cash(funded) == 9_300
    assert casino_ledger(funded, "casino_bet") == 1
    assert_ledger_reconciles()
