"""The player API (read and change limits, take a time-out, self-exclude, reality checks,
the limit prompt), the compliance API, and the OpenAPI schema that documents them."""

from __future__ import annotations

import uuid

import pytest

from responsible.models import Exclusion, Limit
from tests.factories import make_player, make_staff
from users.roles import COMPLIANCE, SUPPORT

pytestmark = pytest.mark.django_db

BASE = "/api/v1/responsible/"


def post(client, path, body=None, *, key=True):
    headers = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex} if key else {}
    return client.post(BASE + path, body or {}, format="json", **headers)


def test_player_sets_reads_raises_and_confirms_a_limit(player_api, player):
    r = post(player_api, "limits/", {"kind": "deposit", "period": "day", "currency": "USD",
                                     "amount": "50.00"})
    assert r.status_code == 200, r.json()
    assert r.json()["effect"] == "applied" and r.json()["limit"]["amount"] == "50.00"
    limit_id = r.json()["limit"]["id"]
    r = post(player_api, "limits/", {"kind": "deposit", "period": "day", "currency": "USD",
                                     "amount": "80.00"})
    assert r.json()["effect"] == "pending"
    assert (r.json()["limit"]["amount"], r.json()["limit"]["pending_amount"]) == ("50.00", "80.00")
    r = post(player_api, f"limits/{limit_id}/confirm/", key=False)
    assert r.status_code == 409 and r.json()["code"] == "cooling_off"
    assert "effective_at" in r.json()
    status = player_api.get(BASE).json()
    assert status["gambling_allowed"] is True
    assert [(x["kind"], x["status"], x["amount"]) for x in status["limits"]] == [
        ("deposit", "pending", "50.00")]
    r = post(player_api, f"limits/{limit_id}/cancel/", key=False)
    assert r.status_code == 200 and r.json()["status"] == "active"


def test_session_time_limits_take_minutes(player_api, player):
    r = post(player_api, "limits/", {"kind": "session_time", "period": "day", "minutes": 90})
    assert r.status_code == 200, r.json()
    assert Limit.objects.get().amount == 90 * 60
    assert r.json()["limit"]["amount"] == "90"


@pytest.mark.parametrize("body", [
    {"kind": "deposit", "period": "day", "currency": "USD", "amount": 50},
    {"kind": "deposit", "period": "day", "currency": "USD", "amount": "1e3"},
    {"kind": "deposit", "period": "day", "currency": "USD", "amount": "-1.00"},
    {"kind": "deposit", "period": "day", "currency": "XXX", "amount": "1.00"},
    {"kind": "deposit", "period": "day", "amount": "1.00"},
    {"kind": "deposit", "period": "fortnight", "currency": "USD", "amount": "1.00"},
    {"kind": "session_time", "period": "day", "currency": "USD", "minutes": 10},
    {"kind": "session_time", "period": "day"},
    {"kind": "deposit", "period": "day", "currency": "USD"},
    {"kind": "nope", "period": "day", "currency": "USD", "amount": "1.00"},
])
def test_bad_limit_input_is_400_and_writes_nothing(player_api, body):
    r = post(player_api, "limits/", body)
    assert r.status_code == 400, r.json()
    assert r.json()["code"]
    assert Limit.objects.count() == 0


def test_limits_need_an_idempotency_key(player_api):
    r = post(player_api, "limits/", {"kind": "deposit", "period": "day", "currency": "USD",
                                     "amount": "1.00"}, key=False)
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"


def test_time_out_and_self_exclusion_through_the_api(player_api, player):
    r = post(player_api, "timeout/", {"days": 0})
    assert r.status_code == 400 and r.json()["code"] == "invalid_duration"
    r = post(player_api, "timeout/", {"days": 3})
    assert r.status_code == 201, r.json()
    assert r.json()["kind"] == "timeout"
    status = player_api.get(BASE).json()
    assert (status["gambling_allowed"], status["marketing_allowed"], status["blocked_by"]) == (
        False, False, "timeout")
    r = post(player_api, "self-exclusion/", {"months": 6})
    assert r.status_code == 201
    r = post(player_api, "self-exclusion/return/", key=False)
    assert r.status_code == 409 and r.json()["code"] == "exclusion_not_liftable"
    r = player_api.post("/api/v1/payments/deposits/",
                        {"amount": "10.00", "currency": "USD", "provider": "sandbox"},
                        format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert r.status_code == 403 and r.json()["code"] == "self_excluded"
    r = player_api.post("/api/v1/games/sessions/", {"game": "hilo", "currency": "USD"},
                        format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert r.status_code == 403 and r.json()["code"] == "self_excluded"


def test_reality_check_interval_and_limit_prompt(player_api, player, settings):
    settings.RG_REALITY_CHECK_MIN_S = 60
    r = post(player_api, "reality-check/", {"interval_s": 30}, key=False)
    assert r.status_code == 400 and r.json()["code"] == "invalid_duration"
    r = post(player_api, "reality-check/", {"interval_s": 600}, key=False)
    assert r.status_code == 200 and r.json()["reality_check_interval_s"] == 600
    r = post(player_api, "limit-prompt/", {"answer": "declined"}, key=False)
    assert r.json()["limit_prompt"]["answer"] == "declined"


def test_compliance_imposes_limits_and_exclusions_and_sees_the_history(make_api):
    player = make_player(funds={"USD": 1_000})
    officer = make_api(make_staff(COMPLIANCE))
    url = f"/api/v1/backoffice/responsible/players/{player.pk}/"
    r = officer.post(url + "limits/", {"kind": "loss", "period": "week", "currency": "USD",
                                        "amount": "20.00"}, format="json")
    assert r.status_code == 400  # a reason is required
    r = officer.post(url + "limits/", {"kind": "loss", "period": "week", "currency": "USD",
                                        "amount": "20.00", "reason": "affordability"},
                     format="json")
    assert r.status_code == 200, r.json()
    assert (r.json()["source"], r.json()["reason"]) == ("operator", "affordability")
    limit_id = r.json()["id"]
    r = officer.post(url + "exclusions/", {"kind": "timeout", "days": 7,
                                           "reason": "player asked by phone"}, format="json")
    assert r.status_code == 201, r.json()
    detail = officer.get(url).json()
    assert detail["blocked_by"] == "timeout"
    reasons = [h["reason"] for h in detail["history"]]
    assert "imposed by compliance: affordability" in reasons
    assert any("player asked by phone" in (x or "") for x in reasons)
    r = officer.post(f"/api/v1/backoffice/responsible/limits/{limit_id}/lift/",
                     {"reason": "reviewed"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "removed"


def test_only_compliance_may_impose(make_api, player):
    for client in (make_api(make_staff(SUPPORT)), make_api(player)):
        r = client.post(f"/api/v1/backoffice/responsible/players/{player.pk}/exclusions/",
                        {"kind": "timeout", "days": 7, "reason": "x"}, format="json")
        assert r.status_code == 403
    assert Exclusion.objects.count() == 0


def test_the_openapi_schema_documents_the_player_and_staff_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path in ("/api/v1/responsible/", "/api/v1/responsible/limits/",
                 "/api/v1/responsible/limits/{limit_id}/confirm/",
                 "/api/v1/responsible/timeout/", "/api/v1/responsible/self-exclusion/",
                 "/api/v1/responsible/self-exclusion/return/",
                 "/api/v1/responsible/reality-check/",
                 "/api/v1/backoffice/responsible/players/{player_id}/limits/",
                 "/api/v1/backoffice/responsible/players/{player_id}/exclusions/"):
        assert path in paths, path
