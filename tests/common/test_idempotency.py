"""The idempotency contract every money endpoint shares."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.idempotency import idempotency_records_expire
from common.models import IdempotencyRecord
from common.tasks import idempotency_expire_task
from tests.factories import make_player
from wallet.models import Deposit

pytestmark = pytest.mark.django_db

BODY = {"amount": "10.00", "currency": "USD", "provider": "sandbox"}


def _post(api, key, body=BODY):
    return api.post("/api/v1/payments/deposits/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_replay_returns_stored_status_and_body(player_api):
    first = _post(player_api, "a")
    again = _post(player_api, "a")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Deposit.objects.count() == 1


def test_key_in_progress_is_409_and_runs_nothing(player_api, player):
    IdempotencyRecord.objects.create(user=player, key="busy", fingerprint="x" * 64)
    resp = _post(player_api, "busy")
    # A different fingerprint wins over in-progress: the body is not the one being processed.
    assert resp.status_code == 422 and resp.json()["code"] == "idempotency_key_reused"
    first = _post(player_api, "busy2")
    record = IdempotencyRecord.objects.get(key="busy2")
    IdempotencyRecord.objects.filter(pk=record.pk).update(status="in_progress")
    resp = _post(player_api, "busy2")
    assert resp.status_code == 409 and resp.json()["code"] == "idempotency_key_in_progress"
    assert first.status_code == 201 and Deposit.objects.count() == 1


def test_keys_are_scoped_per_player(player_api, make_api):
    other = make_api(make_player())
    assert _post(player_api, "shared").status_code == 201
    resp = _post(other, "shared")
    assert resp.status_code == 201 and "Idempotent-Replayed" not in resp
    assert Deposit.objects.count() == 2


def test_body_key_order_and_whitespace_do_not_change_the_fingerprint(player_api):
    import json

    a = player_api.post("/api/v1/payments/deposits/", data=json.dumps(BODY),
                        content_type="application/json", HTTP_IDEMPOTENCY_KEY="fp")
    reordered = json.dumps(dict(reversed(list(BODY.items()))), indent=2)
    b = player_api.post("/api/v1/payments/deposits/", data=reordered,
                        content_type="application/json", HTTP_IDEMPOTENCY_KEY="fp")
    assert a.status_code == 201 and b["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "semi;colon"])
def test_malformed_keys_are_refused(player_api, key):
    resp = _post(player_api, key)
    assert resp.status_code == 400 and resp.json()["code"] == "idempotency_key_required"
    assert Deposit.objects.count() == 0


def test_expiry_keeps_young_keys_and_deletes_old_ones(player_api, settings):
    _post(player_api, "old")
    _post(player_api, "young")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_records_expire(now=timezone.now(), ttl_hours=24) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["young"]
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 0
    assert idempotency_expire_task() == 1
    # An expired key runs again as a new request.
    assert _post(player_api, "old").status_code == 201 and Deposit.objects.count() == 3
