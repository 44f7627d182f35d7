"""Register, obtain a token, use it as Bearer; bad credentials and throttling."""

import pytest
from rest_framework.test import APIClient

from users.models import User

pytestmark = pytest.mark.django_db


def test_register_then_token_then_bearer_access():
    api = APIClient()
    resp = api.post("/api/v1/auth/register/", {"username": "newplayer", "email": "n@example.test",
                                               "password": "a-long-enough-passphrase"}, format="json")
    assert resp.status_code == 201
    assert resp.json() == {"username": "newplayer", "email": "n@example.test"}
    assert "password" not in resp.json()
    token = api.post("/api/v1/auth/token/", {"username": "newplayer",
                                             "password": "a-long-enough-passphrase"},
                     format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/wallets/").status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/wallets/").status_code == 401


def test_weak_password_and_duplicate_username_write_nothing():
    api = APIClient()
    resp = api.post("/api/v1/auth/register/", {"username": "weak", "email": "w@example.test",
                                               "password": "12345678"}, format="json")
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
    assert "password" in resp.json()["errors"]
    assert not User.objects.filter(username="weak").exists()
    body = {"username": "taken", "email": "t@example.test", "password": "a-long-enough-passphrase"}
    assert api.post("/api/v1/auth/register/", body, format="json").status_code == 201
    again = api.post("/api/v1/auth/register/", {**body, "username": "TAKEN"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "username_taken"
    assert User.objects.filter(username__iexact="taken").count() == 1


def test_wrong_password_is_401_with_code():
    User.objects.create_user(username="someone", email="s@example.test", password="right-password-1")
    resp = APIClient().post("/api/v1/auth/token/", {"username": "someone", "password": "wrong"},
                            format="json")
    assert resp.status_code == 401 and resp.json()["code"] == "invalid_credentials"


def test_login_is_throttled(settings):
    from django.core.cache import cache

    cache.clear()
    original = settings.REST_FRAMEWORK
    settings.REST_FRAMEWORK = {**original,
                               "DEFAULT_THROTTLE_RATES": {"login": "3/min", "register": "3/min"}}
    from rest_framework.settings import api_settings

    api_settings.reload()
    from rest_framework.throttling import ScopedRateThrottle

    ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        api = APIClient()
        codes = [api.post("/api/v1/auth/token/", {"username": "x", "password": "y"},
                          format="json").status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        last = api.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json")
        assert last.json()["code"] == "too_many_attempts" and "Retry-After" in last.headers
    finally:
        cache.clear()
        # Restore the real rates: ScopedRateThrottle keeps its class attribute otherwise,
        # and every later registration in the run would be throttled at 3/min.
        settings.REST_FRAMEWORK = original
        api_settings.reload()
        ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
