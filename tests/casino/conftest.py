"""The real stack for the casino tests: one uvicorn (ASGI) process per module against the
test database, configured with a sandbox HMAC secret and a freshly generated Hub88 key.

The server process caches account ids (wallet.ledger: rows that are never deleted in
production), so the tests of one module share committed data instead of truncating it after
each test (`live_db`: autocommit, like transaction=True, without the flush): every test makes
its own players and scopes its counts to them. The module's end empties everything.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import call_command

from tests.casino.kit import SANDBOX_SECRET, Hub88Client, SandboxClient, generate_keypair
from tests.e2e.procs import service_env, start_asgi, stop

FLUSHED_AT_MODULE_END = ["users", "wallet", "kyc", "casino",
                         "reconciliation"]


@pytest.fixture(scope="session")
def hub88_keys():
    return generate_keypair()


@pytest.fixture(scope="module")
def wallet_server(django_db_setup, django_db_blocker, hub88_keys):
    _, public_pem = hub88_keys
    env = service_env(CASINO_SANDBOX_SECRET=SANDBOX_SECRET, CASINO_HUB88_PUBLIC_KEY=public_pem,
                      CASINO_LAUNCH_TOKEN_TTL_S="3600", LOG_LEVEL="WARNING")
    proc, base = start_asgi(env)
    try:
        yield base
    finally:
        stop(proc)
        with django_db_blocker.unblock():
            apps.set_available_apps(FLUSHED_AT_MODULE_END)
            try:
                call_command("flush", verbosity=0, interactive=False, allow_cascade=True,
                             inhibit_post_migrate=True)
            finally:
                apps.unset_available_apps()


@pytest.fixture
def live_db(wallet_server, django_db_blocker):
    """Database access in autocommit (each statement commits, as in the server)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(params=["sandbox", "hub88"])
def provider(request, wallet_server, hub88_keys, live_db):
    if request.param == "sandbox":
        return SandboxClient(wallet_server)
    return Hub88Client(wallet_server, hub88_keys[0])
