"""Random sequences of wallet operations, checking DESIGN.md invariants 1-5 after every step."""

import threading

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from common.errors import DomainError
from tests.factories import make_player
from wallet import services
from wallet.models import OPEN_WITHDRAWAL_STATUSES, Deposit, Withdrawal
from wallet.services import CallbackInput

pytestmark = pytest.mark.django_db(transaction=True)

AMOUNTS = st.integers(min_value=1, max_value=5_000)


def ledger_invariants(player_ids):
    with connection.cursor() as cur:
        # 1. every transaction balances per currency, and so does the whole ledger
        cur.execute("SELECT count(*) FROM (SELECT transaction_id, currency FROM wallet_entry "
                    "GROUP BY 1, 2 HAVING sum(amount) <> 0) t")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM (SELECT currency FROM wallet_entry GROUP BY 1 "
                    "HAVING sum(amount) <> 0) t")
        assert cur.fetchone()[0] == 0
        # 2. materialized balance = sum of entries; 3. never negative
        cur.execute("""SELECT count(*) FROM wallet_account a
                       LEFT JOIN (SELECT account_id, sum(amount) s FROM wallet_entry GROUP BY 1) e
                         ON e.account_id = a.id
                       WHERE a.owner_id IS NOT NULL AND (a.balance <> coalesce(e.s, 0) OR a.balance < 0)""")
        assert cur.fetchone()[0] == 0
        # 4. one provider transaction id and one deposit: at most one credit each
        cur.execute("SELECT count(*) FROM (SELECT reference FROM wallet_transaction WHERE kind='deposit' "
                    "AND reference LIKE 'deposit:%%' GROUP BY 1 HAVING count(*) > 1) t")
        assert cur.fetchone()[0] == 0
    # 5. reserved = sum of open withdrawals (this machine opens no bets or rounds)
    for pid in player_ids:
        reserved = dict(Withdrawal.objects.filter(player_id=pid, status__in=OPEN_WITHDRAWAL_STATUSES)
                        .values_list("currency").annotate(s=Sum("amount")))
        with connection.cursor() as cur:
            cur.execute("SELECT currency, balance FROM wallet_account WHERE owner_id=%s AND kind='reserved'",
                        [pid])
            for currency, balance in cur.fetchall():
                assert balance == reserved.get(currency, 0)


class WalletMachine(RuleBasedStateMachine):
    paid_out = 0
    credited = 0

    def __init__(self):
        super().__init__()
        self.players = [make_player(), make_player()]
        self.staff = make_player()
        self.deposits: list[str] = []
        self.withdrawals: list[str] = []
        # (provider, callback, its last answer was retryable: a too-early callback)
        self.callbacks: list[list] = []
        self.seq = 0

    def _ptid(self):
        self.seq += 1
        return f"psp-{id(self)}-{self.seq}"

    @initialize(first=st.integers(1_000, 20_000), second=st.integers(0, 20_000))
    def opening_deposits(self, first, second):
        """Start with confirmed deposits so withdrawals have something to take."""
        for who, amount in ((0, first), (1, second)):
            if amount:
                self.deposit(who, amount)
                self.deposit_callback(len(self.deposits) - 1, True, True)
        self.withdraw(0, 1)

    @rule(who=st.integers(0, 1), amount=AMOUNTS)
    def deposit(self, who, amount):
        d = services.deposit_create(player=self.players[who], amount=amount, currency="USD",
                                    provider="sandbox", now=timezone.now())
        self.deposits.append(str(d.pk))

    @precondition(lambda self: self.deposits)
    @rule(i=st.integers(0, 1000), succeed=st.booleans(), amount_ok=st.booleans())
    def deposit_callback(self, i, succeed, amount_ok):
        d = Deposit.objects.get(pk=self.deposits[i % len(self.deposits)])
        amount = d.amount if amount_ok else d.amount + 1
        data = CallbackInput(event="deposit.succeeded" if succeed else "deposit.failed",
                             provider_transaction_id=self._ptid(), reference=str(d.pk),
                             amount_raw=f"{amount // 100}.{amount % 100:02d}", currency="USD")
        result = services.provider_callback_apply(provider="sandbox", data=data, payload={},
                                                  now=timezone.now())
        self.callbacks.append(["sandbox", data, bool(result.body.get("retryable"))])

    @precondition(lambda self: self.callbacks)
    @rule(i=st.integers(0, 1000))
    def duplicate_callback(self, i):
        entry = self.callbacks[i % len(self.callbacks)]
        provider, data, was_retryable = entry
        result = services.provider_callback_apply(provider=provider, data=data, payload={},
                                                  now=timezone.now())
        # A final outcome is replayed; a callback that came too early is judged again (and
        # may now get a final outcome; the invariants check that no money moved twice).
        assert result.body.get("duplicate") is True or was_retryable
        entry[2] = bool(result.body.get("retryable"))

    @rule(who=st.integers(0, 1), amount=AMOUNTS)
    def withdraw(self, who, amount):
        try:
            w = services.withdrawal_request(player=self.players[who], amount=amount, currency="USD",
                                            destination="x", now=timezone.now())
            self.withdrawals.append(str(w.pk))
        except DomainError as exc:
            assert exc.code == "insufficient_funds"

    @rule(who=st.integers(0, 1), amount=AMOUNTS)
    def concurrent_withdrawal_pair(self, who, amount):
        barrier = threading.Barrier(2)
        created = []

        def go():
            barrier.wait()
            try:
                created.append(services.withdrawal_request(player=self.players[who], amount=amount,
                                                           currency="USD", destination="x",
                                                           now=timezone.now()).pk)
            except DomainError as exc:
                assert exc.code == "insufficient_funds"
            finally:
                connection.close()

        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.withdrawals.extend(str(pk) for pk in created)

    @precondition(lambda self: self.withdrawals)
    @rule(i=st.integers(0, 1000), action=st.sampled_from(["approve", "reject", "send", "paid", "failed"]))
    def decide(self, i, action):
        wid = self.withdrawals[i % len(self.withdrawals)]
        now = timezone.now()
        try:
            if action == "approve":
                services.withdrawal_approve(withdrawal_id=wid, actor=self.staff, now=now)
            elif action == "reject":
                services.withdrawal_reject(withdrawal_id=wid, actor=self.staff, reason="r", now=now)
            elif action == "send":
                services.withdrawal_send(withdrawal_id=wid, now=now)
            else:
                w = Withdrawal.objects.get(pk=wid)
                data = CallbackInput(event=f"withdrawal.{action}", provider_transaction_id=self._ptid(),
                                     reference=wid, amount_raw=f"{w.amount // 100}.{w.amount % 100:02d}",
                                     currency="USD")
                result = services.provider_callback_apply(provider="sandbox", data=data,
                                                          payload={}, now=now)
                self.callbacks.append(["sandbox", data, bool(result.body.get("retryable"))])
        except DomainError as exc:
            assert exc.code in {"invalid_state", "self_approval_refused"}

    @precondition(lambda self: self.withdrawals)
    @rule(i=st.integers(0, 1000), final=st.sampled_from(["paid", "failed"]))
    def advance(self, i, final):
        """Drive one open withdrawal through approve and send to the provider's verdict."""
        open_ids = [w for w in self.withdrawals
                    if Withdrawal.objects.get(pk=w).status in OPEN_WITHDRAWAL_STATUSES]
        if not open_ids:
            return
        wid = open_ids[i % len(open_ids)]
        while (status := Withdrawal.objects.get(pk=wid).status) in OPEN_WITHDRAWAL_STATUSES:
            action = {"requested": "approve", "approved": "send", "processing": final}[status]
            self.decide(self.withdrawals.index(wid), action)

    @invariant()
    def invariants_hold(self):
        ledger_invariants([p.pk for p in self.players])

    def teardown(self):
        # Settle one open withdrawal all the way, then check once more: the machine must
        # have moved real money through every state, or it proved nothing.
        if any(Withdrawal.objects.get(pk=w).status in OPEN_WITHDRAWAL_STATUSES
               for w in self.withdrawals):
            self.advance(0, "paid")
            ledger_invariants([p.pk for p in self.players])
        WalletMachine.paid_out += Withdrawal.objects.filter(status="paid").count()
        WalletMachine.credited += Deposit.objects.filter(status="succeeded").count()


def test_wallet_invariants_hold_under_random_operations(settings):
    settings.COMPLIANCE_GATES = []
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = ""
    run_state_machine_as_test(
        WalletMachine,
        settings=hsettings(max_examples=12, stateful_step_count=25, deadline=None,
                          suppress_health_check=list(HealthCheck)),
    )
    assert WalletMachine.credited > 0 and WalletMachine.paid_out > 0
