"""Grants: the first-deposit bonus credited exactly once (replayed and parallel webhooks),
manual grants by staff with a reason, and their refusals (stable 4xx, nothing written)."""

import uuid

import pytest
from rest_framework.test import APIClient

from bonuses.models import BonusStatus, PlayerBonus, Trigger
from tests.factories import balances, make_player, make_staff
from tests.wallet.conftest import run_parallel
from wallet.models import Deposit, Transaction

from .conftest import deposit, deposit_webhook, grant, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def _first_deposit_campaign(**terms):
    return make_campaign(name="First deposit 100%", trigger=Trigger.FIRST_DEPOSIT, percent=100,
                         cap=2_000, min_deposit=1_000, **terms)


def test_first_deposit_grants_the_capped_percentage_once_even_when_replayed():
    _first_deposit_campaign()
    player = make_player()
    did = deposit(player, "25.00")
    first = deposit_webhook(did, amount="25.00")
    again = deposit_webhook(did, amount="25.00")
    assert first.status_code == again.status_code == 200 and again.json()["duplicate"]
    bonus = PlayerBonus.objects.get(player=player)
    assert (bonus.amount, bonus.status, bonus.wagering_required) == (2_000, "granted", 2_000 * 2)
    assert bonus.deposit_reference == f"deposit:{did}"
    assert balances(player) == {"cash": 2_500, "reserved": 0, "bonus": 2_000}
    assert Transaction.objects.filter(kind="bonus_grant").count() == 1
    assert bonus.history.count() == 1


def test_parallel_first_deposits_grant_one_bonus():
    _first_deposit_campaign()
    player = make_player()
    ids = [deposit(player, "15.00") for _ in range(4)]
    responses = run_parallel(4, lambda i: deposit_webhook(ids[i], amount="15.00"))
    assert [r.status_code for r in responses] == [200] * 4
    assert Deposit.objects.filter(player=player, status="succeeded").count() == 4
    assert PlayerBonus.objects.filter(player=player).count() == 1
    assert Transaction.objects.filter(kind="bonus_grant").count() == 1
    assert balances(player) == {"cash": 6_000, "reserved": 0, "bonus": 1_500}


def test_parallel_replays_of_one_first_deposit_grant_once():
    _first_deposit_campaign()
    player = make_player()
    did = deposit(player, "12.00")
    responses = run_parallel(6, lambda i: deposit_webhook(did, amount="12.00"))
    assert [r.status_code for r in responses] == [200] * 6
    assert PlayerBonus.objects.filter(player=player).count() == 1
    assert balances(player) == {"cash": 1_200, "reserved": 0, "bonus": 1_200}


def test_a_second_or_too_small_deposit_grants_nothing():
    _first_deposit_campaign()
    small = make_player()
    deposit_webhook(deposit(small, "5.00"), amount="5.00")  # below min_deposit 10.00
    deposit_webhook(deposit(small, "50.00"), amount="50.00")  # not the first any more
    assert PlayerBonus.objects.filter(player=small).count() == 0
    assert balances(small)["bonus"] == 0


def test_staff_grants_a_bonus_with_a_reason(payments_api):
    campaign = make_campaign(fixed_amount=1_000)
    player = make_player()
    resp = payments_api.post("/api/v1/backoffice/bonuses/grants/",
                             {"player_id": player.pk, "campaign_id": campaign.pk,
                              "amount": "7.50", "reason": "service recovery"},
                             format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert resp.status_code == 201, resp.content
    assert resp.json()["amount"] == "7.50" and resp.json()["status"] == "granted"
    bonus = PlayerBonus.objects.get(player=player)
    assert bonus.history.get().history_change_reason == "service recovery"
    assert balances(player)["bonus"] == 750
    txn = Transaction.objects.get(kind="bonus_grant")
    assert txn.reason == "service recovery" and txn.created_by_id == bonus.granted_by_id


@pytest.mark.parametrize("case, status, code", [
    ("no_reason", 400, "invalid_request"),
    ("unknown_campaign", 404, "campaign_not_found"),
    ("inactive", 409, "campaign_inactive"),
    ("staff_recipient", 422, "bonus_staff_recipient"),
    ("already_open", 409, "bonus_already_open"),
    ("bad_amount", 400, "invalid_amount"),
])
def test_manual_grant_refusals_write_nothing(payments_api, case, status, code):
    campaign = make_campaign(active=case != "inactive")
    player = make_staff() if case == "staff_recipient" else make_player()
    if case == "already_open":
        grant(player, campaign)
    before = (PlayerBonus.objects.count(), Transaction.objects.count(), balances(player))
    body = {"player_id": player.pk, "campaign_id": campaign.pk, "reason": "because"}
    if case == "no_reason":
        body["reason"] = ""
    if case == "unknown_campaign":
        body["campaign_id"] = campaign.pk + 999
    if case == "bad_amount":
        body["amount"] = "1.234"
    resp = payments_api.post("/api/v1/backoffice/bonuses/grants/", body, format="json",
                             HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert (resp.status_code, resp.json()["code"]) == (status, code)
    assert (PlayerBonus.objects.count(), Transaction.objects.count(), balances(player)) == before


def test_only_payments_staff_grant(make_api):
    campaign = make_campaign()
    player = make_player()
    resp = make_api(make_player()).post("/api/v1/backoffice/bonuses/grants/",
                                        {"player_id": player.pk, "campaign_id": campaign.pk,
                                         "reason": "x"}, format="json",
                                        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert resp.status_code == 403
    assert PlayerBonus.objects.count() == 0 and balances(player)["bonus"] == 0


def test_player_lists_own_bonuses_with_progress():
    player = make_player()
    grant(player, make_campaign(fixed_amount=1_000, wagering_multiple=3, max_bet=500))
    grant(make_player())  # someone else's
    client = APIClient()
    client.force_authenticate(player)
    rows = client.get("/api/v1/bonuses/").json()
    assert len(rows) == 1
    row = rows[0]
    assert (row["status"], row["amount"], row["balance"], row["wagering_required"], row["wagered"],
            row["progress_percent"], row["max_bet"]) == (
        BonusStatus.GRANTED, "10.00", "10.00", "30.00", "0.00", 0, "5.00")


def test_staff_define_campaigns_through_the_api(payments_api):
    resp = payments_api.post("/api/v1/backoffice/bonuses/campaigns/", {
        "name": "Reload", "trigger": "manual", "currency": "USD", "fixed_amount": "5.00",
        "wagering_multiple": 10, "contribution_games": {"hilo": 50}, "max_bet": "2.00",
        "max_conversion": "20.00"}, format="json")
    assert resp.status_code == 201, resp.content
    assert (resp.json()["fixed_amount"], resp.json()["contribution_games"]) == ("5.00", {"hilo": 50})
    bad = payments_api.post("/api/v1/backoffice/bonuses/campaigns/", {
        "name": "Both", "trigger": "manual", "currency": "USD", "fixed_amount": "5.00",
        "percent": 50}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_campaign")
