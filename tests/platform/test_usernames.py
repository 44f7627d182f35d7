"""Issue 12: usernames are NFKC-normalised, look-alikes of an existing one are refused
(409 username_confusable), login normalises too, and registration does not reveal whether an
email already has an account. Through the API against PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from users.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-passphrase"


def register(username, email):
    return APIClient().post("/api/v1/auth/register/", {
        "username": username, "email": email, "password": PASSWORD}, format="json")


def login(username):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": PASSWORD},
                            format="json")


def test_a_fullwidth_username_is_stored_normalised_and_logs_in_either_way():
    resp = register("ｂｏｂ＿ｓｍｉｔｈ", "bob@example.test")
    assert resp.status_code == 201 and resp.json()["username"] == "bob_smith"
    assert User.objects.get(email="bob@example.test").username == "bob_smith"
    assert login("bob_smith").status_code == 200
    assert login("ｂｏｂ＿ｓｍｉｔｈ").status_code == 200


@pytest.mark.parametrize("lookalike", [
    "ａｌｉｃｅ",        # fullwidth: NFKC folds it to alice itself
    "\u0430lice",        # Cyrillic а + Latin lice (mixed scripts)
    "a\u0406ice",        # Latin with a Cyrillic capital І in place of the l
    "aIice",             # ASCII capital I in place of the l
    "ALICE",             # case
    "a1ice",             # ASCII look-alike digit
])
def test_a_username_that_looks_like_an_existing_one_is_refused(lookalike):
    assert register("alice", "alice@example.test").status_code == 201
    resp = register(lookalike, "other@example.test")
    assert resp.status_code == 409, resp.json()
    assert resp.json()["code"] in {"username_taken", "username_confusable"}
    assert User.objects.count() == 1


def test_mixed_script_look_alike_letters_are_refused_even_with_no_match():
    resp = register("p\u0430ypal_fan", "fan@example.test")  # Cyrillic а inside Latin
    assert (resp.status_code, resp.json()["code"]) == (409, "username_confusable")
    assert User.objects.count() == 0
    assert register("иван", "ivan@example.test").status_code == 201  # one script: fine


def test_an_existing_email_gets_the_same_answer_and_nothing_is_created():
    first = register("carol", "carol@example.test")
    assert first.status_code == 201
    again = register("carol_two", "Carol@Example.test")
    assert again.status_code == 201
    assert again.json() == {"username": "carol_two", "email": "Carol@Example.test"}
    assert set(again.json()) == set(first.json())
    assert User.objects.count() == 1 and not User.objects.filter(username="carol_two").exists()
    assert login("carol_two").status_code == 401


def test_known_and_unknown_emails_take_about_the_same_time(settings):
    # Real hashing cost (the test settings use MD5): the hash is what an attacker would time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    assert register("dave", "dave@example.test").status_code == 201

    def timed(username, email):
        started = time.perf_counter()
        assert register(username, email).status_code == 201
        return time.perf_counter() - started

    known = sorted(timed(f"known{i}", "dave@example.test") for i in range(3))[1]
    unknown = sorted(timed(f"new{i}", f"new{i}@example.test") for i in range(3))[1]
    assert 0.5 < known / unknown < 2, (known, unknown)


@pytest.mark.django_db(transaction=True)
def test_parallel_look_alike_registrations_create_one_account():
    barrier = threading.Barrier(2)
    results = []

    def go(name, email):
        try:
            barrier.wait()
            results.append(register(name, email).status_code)
        finally:
            connection.close()

    # Latin "aoe" and Cyrillic "\u0430\u043e\u0435": each one script, the same skeleton; only
    # the unique index on the skeleton can decide between two parallel registrations.
    threads = [threading.Thread(target=go, args=("aoe", "aoe@example.test")),
               threading.Thread(target=go, args=("\u0430\u043e\u0435", "aoe2@example.test"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [201, 409]
    assert User.objects.count() == 1
