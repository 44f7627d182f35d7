"""Four-eyes manual adjustments: propose, approve by someone else, post exactly once."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from backoffice.errors import (
    AdjustmentNotPending,
    ReasonRequired,
    RoleRequired,
    SelfApprovalRefused,
)
from backoffice.models import ManualAdjustment
from backoffice.services import adjustment_approve, adjustment_propose, adjustment_reject
from events.models import OutboxEvent
from tests.factories import balances, make_player, make_staff
from wallet.errors import InsufficientFunds
from wallet.models import Transaction

pytestmark = pytest.mark.django_db

NOW = timezone.now


def _propose(proposer, player, amount=1_500, reason="goodwill for outage #12"):
    return adjustment_propose(player_id=player.pk, currency="USD", amount=amount, reason=reason,
                              actor=proposer, now=NOW())


def test_approved_adjustment_posts_exactly_one_transaction():
    player = make_player(funds={"USD": 1_000})
    support = make_staff("support_agent")
    payments = make_staff("payments")
    adj = _propose(support, player)
    assert balances(player)["cash"] == 1_000  # nothing moves on proposal
    txns, events = Transaction.objects.count(), OutboxEvent.objects.count()

    adjustment_approve(adjustment_id=adj.pk, actor=payments, reason="checked the ticket", now=NOW())

    adj.refresh_from_db()
    assert adj.status == "approved" and adj.decided_by == payments
    assert Transaction.objects.count() == txns + 1
    txn = Transaction.objects.get(dedupe_key=f"adjustment:{adj.pk}")
    assert adj.ledger_transaction == txn and txn.kind == "adjustment" and txn.created_by == payments
    assert sorted(e.amount for e in txn.entries.all()) == [-1_500, 1_500]
    assert balances(player)["cash"] == 2_500
    event = OutboxEvent.objects.get(topic="adjustment.posted")
    assert OutboxEvent.objects.count() == events + 1
    assert event.payload["amount"] == 1_500 and event.payload["player_id"] == player.pk
    # A second approval changes nothing.
    with pytest.raises(AdjustmentNotPending):
        adjustment_approve(adjustment_id=adj.pk, actor=make_staff("payments"), reason="again",
                           now=NOW())
    assert Transaction.objects.count() == txns + 1 and balances(player)["cash"] == 2_500
    reasons = list(adj.history.order_by("history_date").values_list("history_change_reason",
                                                                     flat=True))
    assert reasons == ["proposed: goodwill for outage #12", "approved: checked the ticket"]


def test_self_approval_refused_and_nothing_written():
    player = make_player(funds={"USD": 1_000})
    # Holds both rights: still cannot approve their own proposal.
    both = make_staff("support_agent", "payments")
    adj = _propose(both, player)
    txns = Transaction.objects.count()
    with pytest.raises(SelfApprovalRefused):
        adjustment_approve(adjustment_id=adj.pk, actor=both, reason="me", now=NOW())
    with pytest.raises(SelfApprovalRefused):
        adjustment_reject(adjustment_id=adj.pk, actor=both, reason="me", now=NOW())
    adj.refresh_from_db()
    assert adj.status == "proposed" and adj.decided_by is None
    assert Transaction.objects.count() == txns and balances(player)["cash"] == 1_000


def test_database_refuses_decider_equal_to_proposer():
    player = make_player()
    support = make_staff("support_agent")
    adj = _propose(support, player)
    with pytest.raises(IntegrityError), transaction.atomic():
        ManualAdjustment.objects.filter(pk=adj.pk).update(decided_by=support)


def test_roles_without_the_permission_are_refused():
    player = make_player()
    trader = make_staff("trader")
    with pytest.raises(RoleRequired):
        _propose(trader, player)
    adj = _propose(make_staff("support_agent"), player)
    for role in ("support_agent", "trader", "compliance_officer"):
        with pytest.raises(RoleRequired):
            adjustment_approve(adjustment_id=adj.pk, actor=make_staff(role), reason="x", now=NOW())
    assert ManualAdjustment.objects.get(pk=adj.pk).status == "proposed"


def test_debit_beyond_cash_refused_and_stays_proposed():
    player = make_player(funds={"USD": 500})
    adj = _propose(make_staff("support_agent"), player, amount=-501, reason="chargeback")
    txns = Transaction.objects.count()
    with pytest.raises(InsufficientFunds):
        adjustment_approve(adjustment_id=adj.pk, actor=make_staff("payments"), reason="ok",
                           now=NOW())
    adj.refresh_from_db()
    assert adj.status == "proposed" and Transaction.objects.count() == txns
    assert balances(player)["cash"] == 500


def test_reject_moves_no_money_and_needs_reason():
    player = make_player(funds={"USD": 500})
    adj = _propose(make_staff("support_agent"), player, amount=-100, reason="chargeback")
    payments = make_staff("payments")
    with pytest.raises(ReasonRequired):
        adjustment_reject(adjustment_id=adj.pk, actor=payments, reason="  ", now=NOW())
    adjustment_reject(adjustment_id=adj.pk, actor=payments, reason="not a chargeback", now=NOW())
    adj.refresh_from_db()
    assert adj.status == "rejected" and adj.ledger_transaction is None
    assert balances(player)["cash"] == 500


def test_admin_buttons_follow_role_and_state(staff_client):
    player = make_player(funds={"USD": 1_000})
    support, support_client = staff_client("support_agent")
    payments, payments_client = staff_client("payments")
    resp = support_client.post("/admin/backoffice/manualadjustment/add/", {
        "player": player.username, "currency": "USD", "direction": "credit", "amount": "12.50",
        "reason": "refund of a stuck round",
    })
    assert resp.status_code == 302, resp.content
    adj = ManualAdjustment.objects.get(player=player)
    assert adj.amount == 1250 and adj.proposed_by == support
    url = f"/admin/backoffice/manualadjustment/{adj.pk}/change/"
    # The proposer (support) sees no approve button and cannot force the URL.
    assert b'data-transition="approve"' not in support_client.get(url).content
    assert support_client.post(url.replace("change/", "transition/approve/"),
                               {"reason": "x"}).status_code == 403
    page = payments_client.get(url)
    assert b'data-transition="approve"' in page.content
    # The reason is mandatory.
    resp = payments_client.post(url.replace("change/", "transition/approve/"), {"reason": ""})
    assert resp.status_code == 200 and ManualAdjustment.objects.get(pk=adj.pk).status == "proposed"
    resp = payments_client.post(url.replace("change/", "transition/approve/"),
                                {"reason": "ticket 77 verified"})
    assert resp.status_code == 302
    adj.refresh_from_db()
    assert adj.status == "approved" and balances(player)["cash"] == 2_250
    # Once approved, no button is offered any more.
    assert b'data-transition=' not in payments_client.get(url).content
