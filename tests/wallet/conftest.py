import json
import threading
import time

import pytest
from django.db import connection

from wallet.providers import sign

SECRET = "sandbox-test-secret"


def signed_post(api, payload, *, secret=SECRET, ts=None, provider="sandbox", body=None):
    raw = body if body is not None else json.dumps(payload).encode()
    header = sign(secret=secret.encode(), timestamp=int(ts or time.time()), body=raw)
    return api.post(f"/api/v1/payments/webhooks/{provider}/", data=raw,
                    content_type="application/json", HTTP_X_SIGNATURE=header)


def run_parallel(n, fn):
    """Run fn(i) in n threads released together; each thread closes its own DB connection."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - surfaced to the test as a result
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture
def no_withdrawal_gates(settings):
    settings.COMPLIANCE_GATES = []
