"""`manage.py reconcile` checks the bonus equation and the bonus states against the ledger;
each seeded corruption is reported, a healthy history of bonuses is not."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from betting import services as betting
from betting.services import LegRequest
from bonuses import services
from bonuses.models import PlayerBonus
from reconciliation.checks import run_checks
from reconciliation.models import Discrepancy, DiscrepancyKind
from tests.betting.conftest import make_market, selections_of
from tests.factories import make_player
from wallet.ledger import Posting, ledger_post, posting_accounts, system_account
from wallet.models import AccountKind

from .conftest import grant, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def _history():
    """Grants, a bonus-funded win, a forfeit and a conversion: every kind of bonus money."""
    a, b, c = make_player(funds={"USD": 300}), make_player(), make_player()
    grant(a, make_campaign(fixed_amount=1_000, wagering_multiple=1, max_conversion=1_500))
    market = make_market((("Home", "2.000"), ("Away", "1.800")))
    home, _ = selections_of(market)
    betting.bet_place(player=a, legs=[LegRequest(home.pk, Decimal("2.000"))], stake=1_000,
                      currency="USD", odds_change="none", now=timezone.now())
    betting.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                          now=timezone.now())
    betting.market_settlement_process(market_id=market.pk, now=timezone.now())
    pb_b = grant(b, make_campaign(fixed_amount=400))
    services.bonus_forfeit(bonus_id=pb_b.pk, actor=pb_b.granted_by, reason="test", now=timezone.now())
    grant(c, make_campaign(fixed_amount=250))
    return a, b, c


def _bonus_findings():
    return [f for f in run_checks(now=timezone.now(), only=["bonuses"])]


def test_a_healthy_bonus_history_reconciles():
    a, _, _ = _history()
    assert PlayerBonus.objects.get(player=a).status == "converted"
    assert _bonus_findings() == []
    assert [f for f in run_checks(now=timezone.now(), only=["ledger_sums", "negative_balances",
                                                            "single_posting", "reserved"])] == []


def test_bonus_money_posted_outside_the_bonus_app_is_reported():
    _, _, c = _history()
    with transaction.atomic():
        accts = posting_accounts(player_id=c.pk, currency="USD")
        ledger_post(kind="adjustment", reference="sneaky",
                    postings=[Posting(system_account(AccountKind.HOUSE, "USD"), -99),
                              Posting(accts.bonus, 99)])
    findings = _bonus_findings()
    assert [(f.kind, f.player_id, f.expected, f.actual) for f in findings] == [
        (DiscrepancyKind.BONUS_BALANCE_MISMATCH, c.pk, 250, 349)]


def test_a_bonus_state_changed_behind_the_ledgers_back_is_reported():
    _, _, c = _history()
    pb = PlayerBonus.objects.get(player=c)
    # A direct UPDATE: "converted" with no conversion posting, the money still in bonus.
    PlayerBonus.objects.filter(pk=pb.pk).update(status="converted", converted_amount=250)
    kinds = sorted((f.kind, f.player_id) for f in _bonus_findings())
    assert kinds == [(DiscrepancyKind.BONUS_BALANCE_MISMATCH, c.pk),
                     (DiscrepancyKind.BONUS_STATE_MISMATCH, c.pk)]


def test_manage_py_reconcile_records_the_bonus_discrepancies():
    _, b, _ = _history()
    pb = PlayerBonus.objects.get(player=b)
    PlayerBonus.objects.filter(pk=pb.pk).update(forfeited_amount=1)  # the ledger says 400
    call_command("reconcile", stdout=StringIO())
    d = Discrepancy.objects.get(kind=DiscrepancyKind.BONUS_STATE_MISMATCH)
    assert d.player_id == b.pk and d.detail["closed_posted"] == -400
