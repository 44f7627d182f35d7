"""schemathesis against the live schema of the platform as `make run` starts it (`make fuzz`).

The web tier (scripts/web.sh: gunicorn + uvicorn) runs on the PostgreSQL test database. A
funded player, a second player for the responsible-gambling operations (a self-exclusion
would lock the first out of everything else) and one staff member per role log in through
`POST /api/v1/auth/token/` (staff with password + a current TOTP code). schemathesis loads
`/api/schema/` from the server and, for every operation, sends schema-valid and
schema-violating requests with a fresh `Idempotency-Key` each; backoffice operations rotate
through every staff role, so both the allowed answers and the 403s are exercised.

Each response must: not be a 5xx; have a status code the operation documents; have the
documented content type; and have a body that conforms to the documented schema (error
bodies included: their `code` must be one the operation lists). FUZZ_MAX_EXAMPLES (default 8)
sets the examples per operation and mode.
"""

from __future__ import annotations

import itertools
import os
import uuid

import httpx
import pytest
import schemathesis
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backoffice.roles import roles_sync
from tests.e2e.browser import start_web
from tests.e2e.procs import service_env, stop
from tests.factories import make_player, make_staff
from users.roles import ALL_ROLES

pytestmark = [
    pytest.mark.fuzz, pytest.mark.e2e, pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(1200),
    pytest.mark.skipif(os.environ.get("FUZZ") != "1", reason="make fuzz runs it (FUZZ=1)"),
]

PASSWORD = "correct-horse-battery"
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _login(base: str, user, device: TOTPDevice | None = None) -> str:
    body = {"username": user.username, "password": PASSWORD}
    if device is not None:
        device.refresh_from_db()
        body["otp_token"] = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    response = httpx.post(f"{base}/api/v1/auth/token/", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["token"]


@pytest.fixture
def platform(tmp_path):
    roles_sync()
    funds = {"USD": 1_000_000, "EUR": 1_000_000, "BTC": 10**8}
    player, rg_player = make_player(funds=funds), make_player(funds=funds)
    staff = {}
    for role in ALL_ROLES:
        user = make_staff(role)
        staff[role] = (user, TOTPDevice.objects.create(user=user, name="phone", confirmed=True))
    server, base = start_web(service_env(WEB_CONCURRENCY="3", LOGIN_THROTTLE_RATE="1000/min",
                                         REGISTER_THROTTLE_RATE="1000/min",
                                         STATIC_ROOT=str(tmp_path / "static")))
    try:
        yield {
            "base": base,
            "player": _login(base, player),
            "rg_player": _login(base, rg_player),
            "staff": {role: _login(base, user, device) for role, (user, device) in staff.items()},
        }
    finally:
        stop(server)


@pytest.fixture
def api_schema(platform):
    loaded = schemathesis.openapi.from_url(f"{platform['base']}/api/schema/?format=json")
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                    max_examples=MAX_EXAMPLES)
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")
_roles = itertools.cycle(ALL_ROLES)


def _token(case, platform) -> str | None:
    path = case.operation.path
    if path.startswith("/api/v1/auth/") or path.startswith("/api/v1/payments/webhooks/"):
        return None
    if path.startswith("/api/v1/backoffice/"):
        return platform["staff"][next(_roles)]
    if path.startswith("/api/v1/responsible/"):
        return platform["rg_player"]
    return platform["player"]


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_5xx_and_every_response_matches_the_schema(case, platform):
    headers = dict(case.headers or {})
    headers.pop("Authorization", None)
    token = _token(case, platform)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if any(p.name == "Idempotency-Key" for p in case.operation.headers):
        headers["Idempotency-Key"] = str(uuid.uuid4())
    case.headers = headers
    case.call_and_validate(base_url=platform["base"], checks=CHECKS, timeout=60)
