"""The published OpenAPI schema is one a developer can call from (common.schema)."""

from __future__ import annotations

import pytest
from django.urls import get_resolver
from drf_spectacular.generators import SchemaGenerator

from common.money import CURRENCIES
from sessions.models import Game

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def _idempotent_views():
    """(method, path) of every view method decorated with common.idempotency.idempotent."""
    found = set()
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, _regex, method, view in generator.endpoints:
        handler = getattr(getattr(view, "cls", None), method.lower(), None)
        if getattr(handler, "idempotent", False):
            found.add((method.upper(), path))
    return found


def test_every_money_post_documents_a_required_idempotency_key(schema):
    idempotent = _idempotent_views()
    assert len(idempotent) >= 10  # deposits, withdrawals, bets, sessions, KYC, limits...
    ops = {(m, p): op for m, p, op in _operations(schema)}
    for key in idempotent:
        params = {x["name"]: x for x in ops[key].get("parameters", [])}
        assert params["Idempotency-Key"]["in"] == "header", key
        assert params["Idempotency-Key"]["required"] is True, key
        codes = ops[key]["responses"]["400"]["content"]["application/json"]["schema"]
        assert "idempotency_key_required" in codes["allOf"][1]["properties"]["code"]["enum"]
    # ...and no other operation asks for one.
    for method, path, op in _operations(schema):
        if (method, path) not in idempotent:
            assert "Idempotency-Key" not in {x["name"] for x in op.get("parameters", [])}


def test_every_operation_documents_its_errors_with_their_codes(schema):
    assert "Error" in schema["components"]["schemas"]
    for method, path, op in _operations(schema):
        errors = {s: r for s, r in op["responses"].items() if s.startswith(("4", "5"))}
        assert errors, f"{method} {path} documents no error"
        for response in errors.values():
            body = response["content"]["application/json"]["schema"]
            assert body["allOf"][0] == {"$ref": "#/components/schemas/Error"}
            codes = body["allOf"][1]["properties"]["code"]["enum"]
            assert codes and all(f"`{c}`" in response["description"] for c in codes)
    ops = {(m, p): op for m, p, op in _operations(schema)}
    bet = ops[("POST", "/api/v1/betting/bets/")]["responses"]
    assert "odds_changed" in bet["409"]["content"]["application/json"]["schema"]["allOf"][1][
        "properties"]["code"]["enum"]
    assert "insufficient_funds" in str(bet["422"])
    staff = ops[("POST", "/api/v1/backoffice/withdrawals/{withdrawal_id}/approve/")]["responses"]
    assert {"401", "403", "404", "409"} <= set(staff)


def test_one_tag_per_area_with_descriptions(schema):
    tags = {tuple(op["tags"]) for _m, _p, op in _operations(schema)}
    assert all(len(t) == 1 for t in tags)
    names = {t[0] for t in tags}
    assert {"Wallet", "Payments", "Betting", "KYC", "Backoffice: KYC",
            "Backoffice: trading"} <= names
    assert {t["name"] for t in schema["tags"]} == names


def test_currency_and_game_are_enums_and_nullable_fields_say_so(schema):
    comps = schema["components"]["schemas"]
    assert comps["Currency"]["enum"] == list(CURRENCIES)
    assert comps["DepositCreateApiInput"]["properties"]["currency"] == {
        "$ref": "#/components/schemas/Currency"}
    assert comps["BetOutput"]["properties"]["currency"] == {"$ref": "#/components/schemas/Currency"}
    game = comps["GameSessionStartApiInput"]["properties"]["game"]
    assert game["allOf"] == [{"$ref": "#/components/schemas/GameEnum"}]
    assert comps["GameEnum"]["enum"] == Game.values
    assert comps["BetOutput"]["properties"]["settled_at"]["nullable"] is True


def test_descriptions_are_written_for_developers_not_docstrings(schema):
    ops = {(m, p): op for m, p, op in _operations(schema)}
    close = ops[("POST", "/api/v1/backoffice/game-sessions/{session_id}/close/")]
    assert close["summary"] == "Force-close a stuck game session, with a reason"
    assert "Staff:" not in close.get("description", "")  # the view's docstring stays internal
    assert sum(1 for op in ops.values() if op.get("summary")) == len(ops)
    assert get_resolver()  # the URLconf the schema was generated from loads


def test_an_unrouted_api_url_answers_the_json_error_body(client):
    response = client.get("/api/v1/payments/deposits/not-a-uuid/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such resource."}
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
