"""Field report 5: two submits half a second apart created two applications. With real
threads released together, exactly one application exists afterwards."""

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from events.models import OutboxEvent
from kyc.models import KYCApplication, KYCDocument
from tests.factories import make_player
from tests.kyc.conftest import good_documents, stored_files, submit

pytestmark = pytest.mark.django_db(transaction=True)

N = 6


def _race(player, keys):
    barrier = threading.Barrier(len(keys))
    results = []
    lock = threading.Lock()

    def worker(key):
        client = APIClient()
        client.force_authenticate(player)
        files = good_documents()  # built before the barrier: the requests start together
        try:
            barrier.wait()
            res = submit(client, files, key=key)
            with lock:
                results.append((res.status_code, res.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_parallel_submits_create_exactly_one_application(private_media):
    player = make_player()
    results = _race(player, [f"key-{i}" for i in range(N)])
    statuses = Counter(code for code, _ in results)
    assert statuses == {201: 1, 409: N - 1}, results
    assert {body["code"] for code, body in results if code == 409} == {"kyc_application_exists"}
    app = KYCApplication.objects.get(player=player)
    winner = next(body for code, body in results if code == 201)
    assert winner["application_id"] == str(app.pk)
    # The losers stored nothing: two documents, two files, one event.
    assert KYCDocument.objects.filter(application__player=player).count() == 2
    assert len(stored_files(private_media)) == 2
    assert OutboxEvent.objects.filter(topic="kyc.status_changed").count() == 1


def test_parallel_submits_with_one_idempotency_key(private_media):
    player = make_player()
    results = _race(player, ["double-click"] * N)
    codes = Counter(code for code, _ in results)
    assert codes[201] >= 1 and codes[201] + codes[409] == N, results
    # Only idempotency outcomes: a replay (201) or "still running" (409).
    assert {b["code"] for c, b in results if c == 409} <= {"idempotency_key_in_progress"}
    app = KYCApplication.objects.get(player=player)
    assert {b["application_id"] for c, b in results if c == 201} == {str(app.pk)}
    assert len(stored_files(private_media)) == 2
