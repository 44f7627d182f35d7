"""Random sequences of grants, deposits, stakes (sportsbook-style holds and seamless-wallet
debits), wins, losses, voids, withdrawals, expiry and conversion against PostgreSQL; the bonus
invariants are checked after every step."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bonuses import services
from bonuses.errors import BonusAlreadyOpen, BonusForfeitConfirmationRequired, BonusMaxBetExceeded
from bonuses.models import OPEN_BONUS_STATUSES, BonusStake, PlayerBonus, Product, StakeStatus
from common.db import service_atomic
from reconciliation.checks import run_checks
from tests.factories import balances, fund_player, make_player, make_staff
from users.roles import PAYMENTS
from wallet import services as wallet
from wallet.errors import InsufficientFunds
from wallet.models import OPEN_WITHDRAWAL_STATUSES, Transaction, Withdrawal

from .conftest import make_campaign

pytestmark = pytest.mark.django_db(transaction=True)

AMOUNTS = st.integers(min_value=1, max_value=3_000)
# Payout multipliers in tenths: 0 is a loss, 10 a push, 25 pays 2.5x.
MULTIPLIERS = st.sampled_from([0, 0, 5, 10, 18, 25, 40])


class BonusMachine(RuleBasedStateMachine):
    conversions = 0
    forfeits = 0
    bonus_stakes = 0

    def __init__(self):
        super().__init__()
        self.player = make_player()
        self.staff = make_staff(PAYMENTS)
        self.campaign = make_campaign(fixed_amount=2_000, wagering_multiple=2, max_bet=1_500,
                                      max_conversion=2_500, contribution_casino=50)
        self.open: dict[str, tuple[str, int]] = {}  # reference -> (product, stake)
        self.seq = 0
        self.now = timezone.now()

    def _ref(self, prefix):
        self.seq += 1
        return f"{prefix}:{self.player.pk}:{self.seq}"

    @rule(amount=AMOUNTS)
    def deposit(self, amount):
        fund_player(self.player, amount)

    @rule(amount=st.one_of(st.none(), AMOUNTS))
    def grant(self, amount):
        is_open = PlayerBonus.objects.filter(player=self.player, status__in=OPEN_BONUS_STATUSES).exists()
        try:
            services.bonus_grant_manual(player_id=self.player.pk, campaign_id=self.campaign.pk,
                                        amount=amount, reason="stateful", actor=self.staff,
                                        now=self.now)
            assert not is_open
        except BonusAlreadyOpen:
            assert is_open

    def _refusal_wrote_nothing(self, before, exc):
        assert isinstance(exc, InsufficientFunds | BonusMaxBetExceeded), exc
        assert balances(self.player) == before

    @rule(amount=AMOUNTS)
    def stake(self, amount):
        """A held stake, as a sportsbook bet or a game round places it."""
        ref = self._ref("bet")
        before = balances(self.player)
        try:
            with service_atomic():
                services.stake_hold(player_id=self.player.pk, currency="USD", amount=amount,
                                    product=Product.SPORTSBOOK, kind="bet_stake",
                                    dedupe_key=f"{ref}:stake", reference=ref, now=self.now)
        except (InsufficientFunds, BonusMaxBetExceeded) as exc:
            self._refusal_wrote_nothing(before, exc)
            return
        self.open[ref] = ("held", amount)
        after = balances(self.player)
        # Cash first: bonus money is touched only once the cash is gone.
        took_cash = before["cash"] - after["cash"]
        assert took_cash == min(before["cash"], amount)
        assert before["bonus"] - after["bonus"] == amount - took_cash

    @precondition(lambda self: any(kind == "held" for kind, _ in self.open.values()))
    @rule(i=st.integers(0, 100), tenths=MULTIPLIERS, void=st.booleans())
    def settle(self, i, tenths, void):
        refs = sorted(r for r, (kind, _) in self.open.items() if kind == "held")
        ref = refs[i % len(refs)]
        _, amount = self.open.pop(ref)
        payout = amount if void else amount * tenths // 10
        with service_atomic():
            services.stake_settle(player_id=self.player.pk, currency="USD", stake=amount,
                                  payout=payout, kind="bet_settle", dedupe_key=f"{ref}:settle:1",
                                  reference=ref, now=self.now, void=void)

    @rule(amount=AMOUNTS, tenths=MULTIPLIERS, roll_back=st.booleans())
    def casino_round(self, amount, tenths, roll_back):
        """A seamless-wallet bet debited to the house, then its win (or its rollback), then
        the round's close."""
        ref = self._ref("casino")
        round_ref = f"casino_round:{ref}"
        before = balances(self.player)
        try:
            with service_atomic():
                services.casino_stake(player_id=self.player.pk, currency="USD", amount=amount,
                                      game="slot", dedupe_key=f"{ref}:bet", reference=round_ref,
                                      stake_reference=ref, external_reference=ref, metadata={},
                                      kind="casino_bet", now=self.now)
        except (InsufficientFunds, BonusMaxBetExceeded) as exc:
            self._refusal_wrote_nothing(before, exc)
            return
        returned = amount if roll_back else amount * tenths // 10
        with service_atomic():
            if returned:
                services.casino_return(
                    player_id=self.player.pk, currency="USD", amount=returned, stake_reference=ref,
                    dedupe_key=f"{ref}:{'rollback' if roll_back else 'win'}", reference=round_ref,
                    external_reference=ref, metadata={},
                    kind="casino_rollback" if roll_back else "casino_win", rollback=roll_back,
                    now=self.now)
            services.casino_round_closed(player_id=self.player.pk, currency="USD",
                                         reference=round_ref, now=self.now)

    @rule(amount=AMOUNTS, confirm=st.booleans())
    def withdraw(self, amount, confirm):
        is_open = PlayerBonus.objects.filter(player=self.player, status__in=OPEN_BONUS_STATUSES).exists()
        before = balances(self.player)
        try:
            wallet.withdrawal_request(player=self.player, amount=amount, currency="USD",
                                      destination="iban:X", now=self.now, forfeit_bonus=confirm)
        except BonusForfeitConfirmationRequired:
            assert is_open and not confirm
            assert balances(self.player) == before
            return
        except InsufficientFunds:
            # One transaction: a confirmed forfeit is rolled back with the refused hold.
            assert balances(self.player) == before
            assert PlayerBonus.objects.filter(
                player=self.player, status__in=OPEN_BONUS_STATUSES).exists() == is_open
            return
        assert not is_open or confirm
        assert not PlayerBonus.objects.filter(player=self.player, status__in=OPEN_BONUS_STATUSES).exists()

    @rule(days=st.integers(0, 40))
    def beat(self, days):
        """The expiry beat task, some days later (it also converts a missed conversion)."""
        self.now = self.now + timedelta(days=days)
        services.bonuses_expire(now=self.now)

    @rule()
    def staff_forfeit(self):
        pb = PlayerBonus.objects.filter(player=self.player, status__in=OPEN_BONUS_STATUSES).first()
        if pb is not None:
            services.bonus_forfeit(bonus_id=pb.pk, actor=self.staff, reason="stateful", now=self.now)

    @invariant()
    def bonus_invariants(self):
        b = balances(self.player)
        assert min(b.values()) >= 0
        # Reserved is exactly the open held stakes plus the open withdrawals.
        held = sum(amount for kind, amount in self.open.values() if kind == "held")
        withdrawing = (Withdrawal.objects.filter(player=self.player, status__in=OPEN_WITHDRAWAL_STATUSES)
                       .aggregate(s=Sum("amount"))["s"] or 0)
        assert b["reserved"] == held + withdrawing
        bonuses = list(PlayerBonus.objects.filter(player=self.player))
        assert sum(pb.status in OPEN_BONUS_STATUSES for pb in bonuses) <= 1
        if not any(pb.status in OPEN_BONUS_STATUSES for pb in bonuses):
            assert b["bonus"] == 0
        # No double conversion or closing: one closing posting per closed bonus, none per open.
        for pb in bonuses:
            closes = Transaction.objects.filter(dedupe_key=f"bonus:{pb.pk}:close").count()
            assert closes <= 1
            if pb.status in OPEN_BONUS_STATUSES:
                assert closes == 0
            assert pb.converted_amount <= (pb.max_conversion if pb.max_conversion is not None
                                           else pb.converted_amount)
            assert 0 <= pb.wagered
        with connection.cursor() as cur:
            # Every transaction balances, and so the whole ledger: cash + bonus + reserved of
            # the player is exactly what the system accounts gave out.
            cur.execute("SELECT count(*) FROM (SELECT transaction_id FROM wallet_entry "
                        "GROUP BY transaction_id, currency HAVING sum(amount) <> 0) t")
            assert cur.fetchone()[0] == 0
            cur.execute("SELECT a.kind, a.balance, COALESCE(SUM(e.amount), 0) FROM wallet_account a "
                        "LEFT JOIN wallet_entry e ON e.account_id = a.id WHERE a.owner_id = %s "
                        "GROUP BY a.id", [self.player.pk])
            for kind, balance, total in cur.fetchall():
                assert balance == total, kind
        # The reconciliation equation and the FSM/ledger agreement.
        assert run_checks(now=timezone.now(), only=["bonuses"]) == []

    def teardown(self):
        BonusMachine.conversions += PlayerBonus.objects.filter(player=self.player,
                                                               status="converted").count()
        BonusMachine.forfeits += PlayerBonus.objects.filter(
            player=self.player, status__in=["forfeited", "expired"]).count()
        BonusMachine.bonus_stakes += BonusStake.objects.filter(
            player=self.player, bonus_part__gt=0).exclude(status=StakeStatus.OPEN).count()


def test_bonus_invariants_hold_under_random_operations(settings):
    settings.COMPLIANCE_GATES = []
    run_state_machine_as_test(
        BonusMachine,
        settings=hsettings(max_examples=15, stateful_step_count=30, deadline=None,
                          suppress_health_check=list(HealthCheck)),
    )
    # The machine must have moved bonus money through stakes, conversion and forfeits.
    assert BonusMachine.bonus_stakes > 0
    assert BonusMachine.forfeits > 0
