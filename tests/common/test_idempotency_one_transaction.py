"""Issue 11: the idempotency record commits with the money. Claim, effect and stored answer
are one transaction: a concurrent duplicate waits and replays (never runs the effect twice),
an exception after the service rolls the effect back with it (before: the effect committed,
the key was deleted, and the retry ran the money operation a second time), and one money
request is one commit."""

import threading
import uuid
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

import wallet.api.views
from common.models import IdempotencyRecord
from tests.factories import balances, make_player
from wallet.models import Withdrawal

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_gates")]

URL = "/api/v1/payments/withdrawals/"
BODY = {"amount": "10.00", "currency": "USD", "destination": "iban:DE00"}


@pytest.fixture
def no_gates(settings):
    settings.COMPLIANCE_GATES = []
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = ""


def _client(player):
    client = APIClient()
    client.force_authenticate(player)
    return client


def test_parallel_duplicates_run_the_effect_once_and_all_get_its_answer():
    player = make_player(funds={"USD": 10_000})
    n = 8
    barrier = threading.Barrier(n)
    results = []
    lock = threading.Lock()

    def worker():
        client = _client(player)
        try:
            barrier.wait()
            res = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="double-click")
            with lock:
                results.append((res.status_code, res.json(), res.headers.get("Idempotent-Replayed")))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    # Each duplicate waited for the first commit and replayed it: none is "in progress".
    assert Counter(code for code, _, _ in results) == {201: n}, results
    assert len({body["id"] for _, body, _ in results}) == 1
    assert sum(1 for *_, replayed in results if replayed == "true") == n - 1
    assert Withdrawal.objects.filter(player=player).count() == 1
    assert balances(player) == {"cash": 9_000, "reserved": 1_000, "bonus": 0}


def test_an_exception_while_shaping_the_answer_rolls_the_effect_back(monkeypatch):
    player = make_player(funds={"USD": 10_000})
    client = _client(player)
    real = wallet.api.views.WithdrawalOut
    calls = {"n": 0}

    class BrokenOnce(real):
        @property
        def data(self):
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("serializer bug after the service committed")
            return super().data

    monkeypatch.setattr(wallet.api.views, "WithdrawalOut", BrokenOnce)
    client.raise_request_exception = False
    first = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 500
    assert Withdrawal.objects.filter(player=player).count() == 0  # rolled back with the key
    assert not IdempotencyRecord.objects.filter(key="k-1").exists()
    assert balances(player)["cash"] == 10_000

    retry = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert retry.status_code == 201
    again = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == retry.json()
    # Before: two withdrawals (the first committed, its key deleted, the retry ran again).
    assert Withdrawal.objects.filter(player=player).count() == 1
    assert balances(player) == {"cash": 9_000, "reserved": 1_000, "bonus": 0}


def test_a_refusal_is_stored_and_replayed_and_wrote_nothing():
    player = make_player(funds={"USD": 500})
    client = _client(player)
    first = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="too-much")
    assert first.status_code == 422 and first.json()["code"] == "insufficient_funds"
    again = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="too-much")
    assert again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"
    assert Withdrawal.objects.filter(player=player).count() == 0
    assert IdempotencyRecord.objects.get(key="too-much").status == "completed"


def test_a_money_request_is_one_commit():
    """Every write of the request (key, withdrawal, ledger, outbox, stored answer) commits in
    one transaction; reads outside it (authentication) write nothing."""
    player = make_player(funds={"USD": 10_000})
    client = _client(player)
    client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)  # warm caches
    commits, autocommit_writes = [], []
    real_commit = connection.commit

    def counting_commit():
        commits.append(1)
        return real_commit()

    def watch(execute, sql, params, many, context):
        if not connection.in_atomic_block and not sql.lstrip().upper().startswith("SELECT"):
            autocommit_writes.append(sql)
        return execute(sql, params, many, context)

    connection.commit = counting_commit
    try:
        with connection.execute_wrapper(watch):
            res = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    finally:
        del connection.commit
    assert res.status_code == 201
    # Before: claim, service and stored answer were three commits.
    assert (len(commits), autocommit_writes) == (1, [])
