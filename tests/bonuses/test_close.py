"""Closing a bonus: a withdrawal forfeits it only once the player confirmed; staff forfeit with
a reason; expiry by the beat task (idempotent, parallel-safe); never closed twice."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from bonuses import services
from bonuses.models import PlayerBonus
from bonuses.tasks import bonuses_expire_task
from tests.factories import balances, make_player
from tests.wallet.conftest import run_parallel
from wallet.models import Transaction, Withdrawal

from .conftest import grant, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_gates(settings):
    # KYC is not the subject here (as tests/wallet's no_withdrawal_gates).
    settings.COMPLIANCE_GATES = []


def _withdraw(client, **extra):
    return client.post("/api/v1/payments/withdrawals/",
                       {"amount": "5.00", "currency": "USD", "destination": "iban:DE00", **extra},
                       format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)


def test_a_withdrawal_with_an_open_bonus_asks_first_then_forfeits(player_api, player):
    from tests.factories import fund_player

    fund_player(player, 1_000)
    pb = grant(player, make_campaign(fixed_amount=2_000))
    before = (Transaction.objects.count(), balances(player))
    asked = _withdraw(player_api)
    assert asked.status_code == 409, asked.content
    body = asked.json()
    assert (body["code"], body["bonus_amount"], body["bonus_id"]) == (
        "bonus_forfeit_confirmation_required", "20.00", str(pb.pk))
    assert Withdrawal.objects.count() == 0
    assert (Transaction.objects.count(), balances(player)) == before
    assert PlayerBonus.objects.get(pk=pb.pk).status == "granted"

    confirmed = _withdraw(player_api, forfeit_bonus=True)
    assert confirmed.status_code == 201, confirmed.content
    pb = PlayerBonus.objects.get(pk=pb.pk)
    assert (pb.status, pb.forfeited_amount, pb.closed_reason) == ("forfeited", 2_000,
                                                                 "withdrawal requested")
    assert balances(player) == {"cash": 500, "bonus": 0, "reserved": 500}


def test_a_withdrawal_without_a_bonus_needs_no_confirmation(player_api, player):
    from tests.factories import fund_player

    fund_player(player, 1_000)
    assert _withdraw(player_api).status_code == 201


def test_staff_forfeit_with_a_reason_once(payments_api):
    player = make_player()
    pb = grant(player, make_campaign(fixed_amount=900))
    url = f"/api/v1/backoffice/bonuses/{pb.pk}/forfeit/"
    no_reason = payments_api.post(url, {"reason": ""}, format="json",
                                  HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert no_reason.status_code == 400 and balances(player)["bonus"] == 900
    done = payments_api.post(url, {"reason": "bonus abuse"}, format="json",
                             HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert done.status_code == 200 and done.json()["status"] == "forfeited"
    again = payments_api.post(url, {"reason": "again"}, format="json",
                              HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert (again.status_code, again.json()["code"]) == (409, "bonus_not_open")
    assert balances(player)["bonus"] == 0
    assert Transaction.objects.filter(kind="bonus_forfeit").count() == 1
    latest = PlayerBonus.objects.get(pk=pb.pk).history.order_by("-history_id").first()
    assert latest.history_change_reason == "bonus abuse" and latest.history_user_id is not None


def test_expiry_runs_once_even_in_parallel():
    players = [make_player() for _ in range(3)]
    bonuses = [grant(p, make_campaign(fixed_amount=300, valid_days=1)) for p in players]
    keep = grant(make_player(), make_campaign(fixed_amount=300, valid_days=10))
    later = timezone.now() + timedelta(days=2)
    results = run_parallel(4, lambda i: services.bonuses_expire(now=later))
    assert sum(results) == 3
    assert {PlayerBonus.objects.get(pk=b.pk).status for b in bonuses} == {"expired"}
    assert PlayerBonus.objects.get(pk=keep.pk).status == "granted"
    assert Transaction.objects.filter(kind="bonus_forfeit").count() == 3
    assert all(balances(p)["bonus"] == 0 for p in players)
    assert services.bonuses_expire(now=later) == 0
    assert bonuses_expire_task() == 0  # the beat task: nothing left (expiry is in 10 days)


def test_parallel_forfeits_close_once():
    player = make_player()
    pb = grant(player, make_campaign(fixed_amount=700))
    staff = pb.granted_by
    results = run_parallel(5, lambda i: services.bonus_forfeit(
        bonus_id=pb.pk, actor=staff, reason=f"r{i}", now=timezone.now()))
    assert sum(1 for r in results if isinstance(r, PlayerBonus)) == 1
    assert all(getattr(r, "code", None) == "bonus_not_open" for r in results
               if not isinstance(r, PlayerBonus))
    assert Transaction.objects.filter(dedupe_key=f"bonus:{pb.pk}:close").count() == 1
    assert balances(player)["bonus"] == 0
