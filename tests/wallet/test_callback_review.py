"""Issue 11: provider callbacks that need review can be resolved (with a reason, money due
credited through the four-eyes adjustment), a callback refused because it came too early is
judged again on the provider's retry (it was "duplicate" forever), and reconcile reports
each kind of stuck work."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backoffice.models import CallbackReview
from backoffice.roles import roles_sync
from backoffice.services import adjustment_approve
from betting import services as betting
from common.models import IdempotencyRecord
from reconciliation.checks import check_stuck
from tests.betting.conftest import make_market, selections_of
from tests.betting.test_settlement import bet
from tests.factories import balances, make_player, make_staff
from tests.wallet.conftest import signed_post
from wallet.models import ProviderCallback, Withdrawal
from wallet.services import deposit_create, withdrawal_approve, withdrawal_request, withdrawal_send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_gates(settings):
    roles_sync()  # the role groups, as after `manage.py sync_roles`
    settings.COMPLIANCE_GATES = []
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = ""


def _kinds(now):
    # No relay runs here, so the outbox backlog is reported too; not what these tests test.
    return sorted({str(f.kind) for f in check_stuck(now=now)} - {"outbox_unsent"})


def _paid(withdrawal, ptid="psp-w1"):
    return signed_post(APIClient(), {"event": "withdrawal.paid", "provider_transaction_id": ptid,
                                     "reference": str(withdrawal.pk),
                                     "amount": "10.00", "currency": "USD"})


def test_a_callback_that_came_too_early_is_applied_on_the_providers_retry():
    player = make_player(funds={"USD": 5_000})
    w = withdrawal_request(player=player, amount=1_000, currency="USD", destination="iban:X",
                           now=timezone.now())
    withdrawal_approve(withdrawal_id=w.pk, actor=make_staff("payments"), now=timezone.now())

    early = _paid(w)  # our send has not committed yet: the withdrawal is still approved
    assert early.status_code == 409
    assert early.json()["code"] == "not_ready" and early.json()["retryable"] is True
    assert Withdrawal.objects.get(pk=w.pk).status == "approved"

    withdrawal_send(withdrawal_id=w.pk, now=timezone.now())
    retry = _paid(w)
    # Before the fix: 200 {"duplicate": true} with the refusal, forever; the money stuck.
    assert retry.status_code == 200 and not retry.json().get("duplicate")
    assert retry.json()["outcome"] == "applied"
    assert Withdrawal.objects.get(pk=w.pk).status == "paid"
    assert balances(player) == {"cash": 4_000, "reserved": 0, "bonus": 0}
    again = _paid(w)
    assert again.json()["duplicate"] is True
    assert ProviderCallback.objects.filter(provider_transaction_id="psp-w1").count() == 2
    assert not ProviderCallback.objects.filter(needs_review=True).exists()


def test_flagged_callback_is_reported_then_resolved_with_a_four_eyes_credit(make_api):
    player = make_player()
    deposit = deposit_create(player=player, amount=2_500, currency="USD", provider="sandbox",
                             now=timezone.now())
    res = signed_post(APIClient(), {"event": "deposit.succeeded", "provider_transaction_id": "p-7",
                                    "reference": str(deposit.pk), "amount": "30.00",
                                    "currency": "USD"})
    assert res.json()["code"] == "amount_mismatch"
    callback = ProviderCallback.objects.get(provider_transaction_id="p-7")
    assert callback.needs_review
    assert "callback_awaiting_review" in _kinds(timezone.now())

    support = make_staff("support_agent")
    url = f"/api/v1/backoffice/callbacks/{callback.pk}/resolve/"
    assert make_api(support).post(url, {}, format="json").status_code == 400  # reason required
    out = make_api(support).post(url, {"reason": "PSP confirmed 30.00 arrived",
                                       "credit_amount": "30.00"}, format="json")
    assert out.status_code == 200, out.content
    review = CallbackReview.objects.get(callback=callback)
    assert review.resolution == "credit_proposed" and review.adjustment.amount == 3_000
    assert review.adjustment.player_id == player.pk
    assert balances(player)["cash"] == 0  # four eyes: nothing until a second person approves
    assert "callback_awaiting_review" not in _kinds(timezone.now())

    again = make_api(support).post(url, {"reason": "twice"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"
    adjustment_approve(adjustment_id=review.adjustment_id, actor=make_staff("payments"),
                       reason="matches the PSP statement", now=timezone.now())
    assert balances(player)["cash"] == 3_000
    assert CallbackReview.objects.count() == 1


def test_reconcile_reports_each_kind_of_stuck_work():
    player = make_player(funds={"USD": 10_000})
    now = timezone.now()
    assert _kinds(now + timedelta(hours=2)) == []

    IdempotencyRecord.objects.create(user=player, key="lost-request", fingerprint="x")
    market = make_market()
    home, _ = selections_of(market)
    bet(player, [home], stake=100)
    betting.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                          now=now)  # its task never runs here
    w = withdrawal_request(player=player, amount=1_000, currency="USD", destination="iban:X",
                           now=now)
    withdrawal_approve(withdrawal_id=w.pk, actor=make_staff("payments"), now=now)

    assert _kinds(now) == []  # young: the task or request may still be running
    later = now + timedelta(minutes=10)
    assert _kinds(later) == ["stuck_idempotency_key", "unsent_withdrawal", "unsettled_market"]

    betting.market_settlement_process(market_id=market.pk, now=now)
    withdrawal_send(withdrawal_id=w.pk, now=now)
    IdempotencyRecord.objects.filter(key="lost-request").delete()
    assert _kinds(later) == []
