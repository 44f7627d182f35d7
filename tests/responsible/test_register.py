"""The external self-exclusion register behind its adapter (sandbox): checked at registration,
login and deposit, cached for a bounded time, failing closed."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

from responsible import register
from responsible.models import Profile
from users.models import User
from wallet.models import Deposit

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


def register_user(api, email):
    return api.post("/api/v1/auth/register/", {"username": f"u{uuid.uuid4().hex[:8]}",
                                               "email": email, "password": PASSWORD},
                    format="json")


def test_registration_is_refused_for_a_registered_self_excluder(api):
    r = register_user(api, "jo+selfexcluded@example.test")
    assert r.status_code == 403 and r.json()["code"] == "externally_excluded"
    assert User.objects.count() == 0


def test_registration_fails_closed_when_the_register_is_down(api):
    r = register_user(api, "jo+registerdown@example.test")
    assert r.status_code == 503 and r.json()["code"] == "exclusion_register_unavailable"
    assert User.objects.count() == 0


def test_registration_records_the_limit_prompt(api):
    r = register_user(api, "fine@example.test")
    assert r.status_code == 201, r.json()
    profile = Profile.objects.get(player__username=r.json()["username"])
    assert profile.limit_prompt_context == "registration" and profile.limit_prompt_shown_at


def test_login_records_a_register_match_and_play_is_then_refused(api, settings):
    r = register_user(api, "later@example.test")
    user = User.objects.get(username=r.json()["username"])
    # The player joins the register after opening the account.
    settings.RG_SANDBOX_EXCLUDED_EMAILS = ["later@example.test"]
    cache.clear()
    r = api.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD},
                 format="json")
    assert r.status_code == 200  # a token still: the player must be able to withdraw
    assert Profile.objects.get(player=user).external_excluded is True
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {r.json()['token']}")
    r = api.post("/api/v1/games/sessions/", {"game": "hilo", "currency": "USD"}, format="json",
                 HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert r.status_code == 403 and r.json()["code"] == "externally_excluded"
    assert api.get("/api/v1/responsible/").json()["blocked_by"] == "external_register"


def test_a_deposit_checks_the_register_and_fails_closed(player_api, player, settings):
    player.email = "p+registerdown@example.test"
    player.save()
    body = {"amount": "10.00", "currency": "USD", "provider": "sandbox"}
    r = player_api.post("/api/v1/payments/deposits/", body, format="json",
                        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert r.status_code == 503 and r.json()["code"] == "exclusion_register_unavailable"
    assert Deposit.objects.count() == 0
    player.email = "p@example.test"
    player.save()
    settings.RG_SANDBOX_EXCLUDED_EMAILS = ["p@example.test"]
    r = player_api.post("/api/v1/payments/deposits/", body, format="json",
                        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert r.status_code == 403 and r.json()["code"] == "externally_excluded"
    assert Deposit.objects.count() == 0


def test_answers_are_cached_for_a_bounded_time(settings, monkeypatch):
    calls = []

    class Counting(register.SandboxRegister):
        def is_excluded(self, **kwargs):
            calls.append(kwargs["email"])
            return super().is_excluded(**kwargs)

    monkeypatch.setattr(register, "register_adapter", Counting)
    settings.RG_REGISTER_CACHE_S = 1
    assert register.register_lookup(email="a@example.test") is False
    assert register.register_lookup(email="A@Example.test ") is False
    assert calls == ["a@example.test"]
    # The answer is stored in Redis with the bounded TTL (RG_REGISTER_CACHE_S).
    client = cache._cache.get_client(write=False)
    ttl = client.ttl(cache.make_key(register._cache_key("a@example.test")))
    assert 0 < ttl <= 1
