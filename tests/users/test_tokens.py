"""Player credentials (issue 12): hashed at rest, one per device and login, expiring,
listed and revocable by the player, all revoked by a password change, revocable by support
with a reason kept in the history; authentication is one query."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import make_player, make_staff, make_token
from users.models import AuthToken, User
from users.tokens import token_authenticate

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def _login(user, device="", ua="test-agent/1"):
    resp = APIClient().post("/api/v1/auth/token/", {"username": user.username,
                                                    "password": PASSWORD, "device": device},
                            format="json", HTTP_USER_AGENT=ua)
    assert resp.status_code == 200, resp.content
    return resp.json()["token"]


def _api(key):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def test_keys_are_stored_only_as_digests():
    player = make_player()
    key = _login(player)
    row = AuthToken.objects.get(user=player)
    assert row.digest == hashlib.sha256(key.encode()).hexdigest()
    with connection.cursor() as cur:
        cur.execute("SELECT row_to_json(t)::text FROM users_authtoken t")
        dump = " ".join(r[0] for r in cur.fetchall())
        cur.execute("SELECT row_to_json(t)::text FROM users_historicalauthtoken t")
        dump += " ".join(r[0] for r in cur.fetchall())
    assert key not in dump
    assert _api(key).get("/api/v1/wallets/").status_code == 200


def test_each_login_gets_a_fresh_token_per_device():
    player = make_player()
    phone = _login(player, device="phone", ua="Phone/1")
    laptop = _login(player, device="", ua="Laptop/2")
    assert phone != laptop
    assert AuthToken.objects.filter(user=player).count() == 2
    devices = _api(phone).get("/api/v1/auth/devices/").json()
    assert [(d["label"], d["user_agent"], d["current"]) for d in devices] == [
        ("Laptop/2", "Laptop/2", False), ("phone", "Phone/1", True)]


def test_logout_ends_only_this_token():
    player = make_player()
    a, b = _login(player), _login(player)
    assert _api(a).post("/api/v1/auth/logout/").status_code == 204
    resp = _api(a).get("/api/v1/wallets/")
    assert resp.status_code == 401 and resp.json()["code"] == "token_revoked"
    assert _api(b).get("/api/v1/wallets/").status_code == 200
    row = AuthToken.objects.get(user=player, revoked_at__isnull=False)
    assert row.revoke_reason == "logout"


def test_a_player_revokes_their_own_device_but_not_someone_elses():
    player, other = make_player(), make_player()
    mine, theirs = _login(player), _login(other)
    other_id = AuthToken.objects.get(user=other).pk
    resp = _api(mine).delete(f"/api/v1/auth/devices/{other_id}/")
    assert resp.status_code == 404
    assert _api(theirs).get("/api/v1/wallets/").status_code == 200
    second = _login(player)
    second_id = AuthToken.objects.get(digest=hashlib.sha256(second.encode()).hexdigest()).pk
    assert _api(mine).delete(f"/api/v1/auth/devices/{second_id}/").status_code == 204
    assert _api(second).get("/api/v1/wallets/").status_code == 401
    assert [d["current"] for d in _api(mine).get("/api/v1/auth/devices/").json()] == [True]


def test_password_change_revokes_every_token():
    player = make_player()
    a, b = _login(player), _login(player)
    resp = _api(a).post("/api/v1/auth/password/", {"old_password": PASSWORD,
                                                   "new_password": "another-long-passphrase"},
                        format="json")
    assert resp.status_code == 204
    for key in (a, b):
        r = _api(key).get("/api/v1/wallets/")
        assert r.status_code == 401 and r.json()["code"] == "token_revoked"
    assert set(AuthToken.objects.filter(user=player).values_list("revoke_reason", flat=True)) == {
        "password changed"}


def test_password_changed_anywhere_else_ends_tokens_too():
    """The admin's password form and `manage.py changepassword` call set_password()."""
    player = make_player()
    key = _login(player)
    player.set_password("set-by-support-agent-1")
    player.save()
    r = _api(key).get("/api/v1/wallets/")
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"


def test_sliding_idle_and_absolute_limits(settings):
    settings.AUTH_PLAYER_TOKEN_IDLE_S = 600
    settings.AUTH_PLAYER_TOKEN_MAX_AGE_S = 3600
    player = make_player()
    key = _login(player)
    row = AuthToken.objects.get(user=player)
    assert row.expires_at - row.created_at == timedelta(hours=1)
    now = timezone.now()
    # Used 9 minutes ago: still fine, and the use slides the idle window.
    AuthToken.objects.filter(pk=row.pk).update(last_used_at=now - timedelta(minutes=9))
    assert _api(key).get("/api/v1/wallets/").status_code == 200
    row.refresh_from_db()
    assert timezone.now() - row.last_used_at < timedelta(seconds=30)
    # Idle past 10 minutes: gone.
    AuthToken.objects.filter(pk=row.pk).update(last_used_at=now - timedelta(minutes=11))
    r = _api(key).get("/api/v1/wallets/")
    assert r.status_code == 401 and r.json()["code"] == "token_expired"
    # Used a second ago but past its absolute limit: gone too.
    AuthToken.objects.filter(pk=row.pk).update(last_used_at=now,
                                               expires_at=now - timedelta(seconds=1))
    r = _api(key).get("/api/v1/wallets/")
    assert r.status_code == 401 and r.json()["code"] == "token_expired"
    assert _api(key).get("/api/v1/auth/devices/").status_code == 401


def test_authentication_is_one_query_and_writes_last_used_rarely(django_assert_num_queries,
                                                                  settings):
    settings.AUTH_TOKEN_TOUCH_INTERVAL_S = 60
    player = make_player()
    key = make_token(player)
    AuthToken.objects.filter(user=player).update(
        last_used_at=timezone.now() - timedelta(seconds=61))
    with django_assert_num_queries(2):  # the lookup, and the one touch a minute
        token_authenticate(key=key, now=timezone.now())
    for _ in range(3):
        with django_assert_num_queries(1) as ctx:
            user, _token = token_authenticate(key=key, now=timezone.now())
        assert user.pk == player.pk
    sql = ctx.captured_queries[0]["sql"]
    assert '"users_authtoken"."digest" =' in sql and "JOIN" in sql


def test_support_revokes_a_players_tokens_with_a_reason_in_the_history():
    player = make_player()
    a, b = _login(player), _login(player)
    agent = make_staff("support_agent")
    from backoffice.roles import roles_sync

    roles_sync()
    agent = User.objects.get(pk=agent.pk)  # fresh permission cache
    support = _api(make_token(agent))
    url = f"/api/v1/backoffice/players/{player.pk}/tokens/revoke/"
    resp = support.post(url, {}, format="json")
    assert resp.status_code == 400
    assert _api(a).get("/api/v1/wallets/").status_code == 200
    resp = support.post(url, {"reason": "account takeover reported by phone"}, format="json")
    assert resp.status_code == 200 and resp.json() == {"revoked": 2}
    for key in (a, b):
        assert _api(key).get("/api/v1/wallets/").status_code == 401
    history = AuthToken.history.filter(user=player, revoked_at__isnull=False)
    assert history.count() == 2
    assert {(h.history_user_id, h.history_change_reason) for h in history} == {
        (agent.pk, "account takeover reported by phone")}
    # A trader has no such permission.
    trader = _api(make_token(make_staff("trader")))
    assert trader.post(url, {"reason": "x"}, format="json").status_code == 403


def test_the_legacy_token_table_is_gone():
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('authtoken_token')")
        assert cur.fetchone()[0] is None
