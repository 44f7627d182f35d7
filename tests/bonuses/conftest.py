"""Bonus fixtures: campaigns, grants, deposits through the signed webhook, staff clients."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from bonuses import services
from bonuses.models import Campaign, Trigger
from tests.factories import make_staff
from tests.wallet.conftest import signed_post
from users.roles import PAYMENTS


def make_campaign(**terms) -> Campaign:
    defaults = {"name": "Welcome", "trigger": Trigger.MANUAL, "currency": "USD",
                "fixed_amount": 2_000, "wagering_multiple": 2}
    defaults.update(terms)
    if "percent" in terms and "fixed_amount" not in terms:
        defaults.pop("fixed_amount")
    return services.campaign_create(actor=None, now=timezone.now(), **defaults)


def grant(player, campaign=None, *, amount=None, staff=None, reason="goodwill"):
    campaign = campaign or make_campaign()
    return services.bonus_grant_manual(player_id=player.pk, campaign_id=campaign.pk, amount=amount,
                                       reason=reason, actor=staff or make_staff(PAYMENTS),
                                       now=timezone.now())


def deposit(player, amount="25.00", currency="USD") -> str:
    client = APIClient()
    client.force_authenticate(player)
    resp = client.post("/api/v1/payments/deposits/",
                       {"amount": amount, "currency": currency, "provider": "sandbox"},
                       format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert resp.status_code == 201, resp.content
    return resp.json()["id"]


def deposit_webhook(deposit_id, *, amount="25.00", currency="USD", ptid=None):
    return signed_post(APIClient(), {
        "event": "deposit.succeeded", "provider_transaction_id": ptid or f"psp-{deposit_id}",
        "reference": deposit_id, "amount": amount, "currency": currency})


@pytest.fixture
def payments_api(db, make_api):
    from backoffice.roles import roles_sync

    roles_sync()
    return make_api(make_staff(PAYMENTS))
