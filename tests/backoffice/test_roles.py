"""Each role can do exactly its actions and no others: tables over permissions, admin pages,
admin transition buttons and the backoffice API."""

import uuid

import pytest
from django.db import transaction
from django.utils import timezone

from backoffice.services import adjustment_propose
from tests.factories import balances, make_player, make_staff
from users.roles import ADMINISTRATOR, COMPLIANCE, PAYMENTS, SUPPORT, TRADER
from wallet.models import Withdrawal

from .conftest import verified_client

pytestmark = pytest.mark.django_db

ROLES = [SUPPORT, COMPLIANCE, PAYMENTS, TRADER, ADMINISTRATOR]

# backoffice action permission -> roles holding it (administrator holds everything)
ACTIONS = {
    "view_player": {SUPPORT, COMPLIANCE, PAYMENTS},
    "force_close_session": {SUPPORT},
    "propose_adjustment": {SUPPORT},
    "approve_adjustment": {PAYMENTS},
    "decide_withdrawal": {PAYMENTS},
    "decide_kyc": {COMPLIANCE},
    "set_aml_status": {COMPLIANCE},
    "export_audit": {COMPLIANCE},
    "trade_markets": {TRADER},
    "resolve_discrepancy": {PAYMENTS},
    "view_dashboard": {COMPLIANCE, PAYMENTS, TRADER},
}


@pytest.mark.parametrize("role", ROLES)
def test_role_holds_exactly_its_action_permissions(role):
    user = make_staff(role)
    held = {a for a in ACTIONS if user.has_perm(f"backoffice.{a}")}
    expected = set(ACTIONS) if role == ADMINISTRATOR else {a for a, r in ACTIONS.items() if role in r}
    assert held == expected


@pytest.mark.parametrize("role", ROLES)
def test_nobody_may_change_the_ledger_even_by_permission(role):
    user = make_staff(role)
    for model in ("wallet.transaction", "wallet.entry", "common.idempotencyrecord",
                  "events.outboxevent"):
        app_label, name = model.split(".")
        for action in ("add", "change", "delete"):
            # Administrators hold the Django permission, but the admin refuses anyway
            # (tests/backoffice/test_readonly.py); other roles do not even hold it.
            if role != ADMINISTRATOR:
                assert not user.has_perm(f"{app_label}.{action}_{name}")


# (page, url, roles that may open it)
PAGES = [
    ("player search", "/admin/players/?q=x", {SUPPORT, COMPLIANCE, PAYMENTS}),
    ("dashboard", "/admin/dashboard/", {COMPLIANCE, PAYMENTS, TRADER}),
    ("audit export", "/admin/audit-export/", {COMPLIANCE}),
    ("propose adjustment", "/admin/backoffice/manualadjustment/add/", {SUPPORT}),
    ("adjustments", "/admin/backoffice/manualadjustment/", {SUPPORT, COMPLIANCE, PAYMENTS}),
    ("audit export records", "/admin/backoffice/auditexport/", {COMPLIANCE}),
    ("ledger entries", "/admin/wallet/entry/", {SUPPORT, COMPLIANCE, PAYMENTS}),
    ("ledger transactions", "/admin/wallet/transaction/", {SUPPORT, COMPLIANCE, PAYMENTS}),
    ("withdrawals", "/admin/wallet/withdrawal/", {SUPPORT, COMPLIANCE, PAYMENTS}),
    ("players", "/admin/users/user/", {SUPPORT, COMPLIANCE, PAYMENTS}),
    ("game sessions", "/admin/game_sessions/gamesession/", {SUPPORT, COMPLIANCE}),
    ("bets", "/admin/betting/bet/", {SUPPORT, COMPLIANCE, TRADER}),
    ("markets", "/admin/betting/market/", {TRADER}),
    ("kyc applications", "/admin/kyc/kycapplication/", {COMPLIANCE}),
    ("discrepancies", "/admin/reconciliation/discrepancy/", {COMPLIANCE, PAYMENTS}),
    ("staff TOTP devices", "/admin/otp_totp/totpdevice/", set()),
    ("groups", "/admin/auth/group/", set()),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("page", "url", "allowed"), PAGES, ids=[p[0] for p in PAGES])
def test_admin_pages_by_role(role, page, url, allowed):
    client = verified_client(make_staff(role))
    status = client.get(url).status_code
    if role == ADMINISTRATOR or role in allowed:
        assert status == 200, f"{role} should open {page}"
    else:
        assert status == 403, f"{role} must not open {page} (got {status})"


def _open_withdrawal(player, amount=300):
    from wallet.ledger import hold_funds

    with transaction.atomic():
        w = Withdrawal.objects.create(player=player, amount=amount, currency="USD",
                                      destination="IBAN DE00")
        hold_funds(player_id=player.pk, currency="USD", amount=amount, kind="withdrawal_reserve",
                   dedupe_key=f"withdrawal:{w.pk}:reserve", reference=f"withdrawal:{w.pk}")
    return w


def _live_session_with_open_round(player, stake=200):
    from sessions.services import game_round_bet, game_session_start

    now = timezone.now()
    session = game_session_start(player=player, game="hilo", currency="USD", now=now)
    game_round_bet(session_id=session.pk, player=player, client_round_id=uuid.uuid4(),
                   stake=stake, now=now)
    return session


def _transition(client, url, reason="checked by staff"):
    return client.post(url, {"reason": reason})


@pytest.mark.parametrize("role", ROLES)
def test_withdrawal_buttons_by_role(role, settings):
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = ""
    player = make_player(funds={"USD": 1_000})
    w = _open_withdrawal(player)
    client = verified_client(make_staff(role))
    page = client.get(f"/admin/wallet/withdrawal/{w.pk}/change/")
    allowed = role in (PAYMENTS, ADMINISTRATOR)
    assert (b'data-transition="approve"' in page.content) is allowed
    resp = _transition(client, f"/admin/wallet/withdrawal/{w.pk}/transition/reject/", "fraud check")
    w = Withdrawal.objects.get(pk=w.pk)  # (no FSMModelMixin: refresh_from_db would raise)
    if allowed:
        assert resp.status_code == 302 and w.status == "rejected" and w.reason == "fraud check"
        assert balances(player) == {"cash": 1_000, "reserved": 0, "bonus": 0}
    else:
        assert resp.status_code == 403 and w.status == "requested"
        assert balances(player) == {"cash": 700, "reserved": 300, "bonus": 0}


@pytest.mark.parametrize("role", ROLES)
def test_session_force_close_button_by_role(role):
    player = make_player(funds={"USD": 1_000})
    session = _live_session_with_open_round(player)
    client = verified_client(make_staff(role))
    allowed = role in (SUPPORT, ADMINISTRATOR)
    resp = _transition(client, f"/admin/game_sessions/gamesession/{session.pk}/transition/force_close/",
                       "stuck session, ticket 5")
    session = type(session).objects.get(pk=session.pk)
    if allowed:
        assert resp.status_code == 302 and session.status != "live"
        assert balances(player) == {"cash": 1_000, "reserved": 0, "bonus": 0}
        last = session.history.order_by("-history_date").first()
        assert "ticket 5" in (last.history_change_reason or "") or \
            "ticket 5" in str(session.history.values_list("history_change_reason", flat=True))
    else:
        assert resp.status_code == 403 and session.status == "live"
        assert balances(player) == {"cash": 800, "reserved": 200, "bonus": 0}


@pytest.mark.parametrize("role", ROLES)
def test_adjustment_approval_button_by_role(role):
    player = make_player(funds={"USD": 1_000})
    adj = adjustment_propose(player_id=player.pk, currency="USD", amount=100, reason="goodwill",
                             actor=make_staff(SUPPORT), now=timezone.now())
    client = verified_client(make_staff(role))
    resp = _transition(client, f"/admin/backoffice/manualadjustment/{adj.pk}/transition/approve/")
    adj.refresh_from_db()
    if role in (PAYMENTS, ADMINISTRATOR):
        assert resp.status_code == 302 and adj.status == "approved"
        assert balances(player)["cash"] == 1_100
    else:
        assert resp.status_code == 403 and adj.status == "proposed"
        assert balances(player)["cash"] == 1_000


MISSING = uuid.uuid4()
# (name, method, path, body, roles allowed). Ids name nothing: an allowed role gets past the
# permission check to a 404/400, a refused one stops at 403 before any lookup.
API = [
    ("withdrawal approve", "post", f"withdrawals/{MISSING}/approve/", {"reason": "r"}, {PAYMENTS}),
    ("withdrawal reject", "post", f"withdrawals/{MISSING}/reject/", {"reason": "r"}, {PAYMENTS}),
    ("market suspend", "post", "markets/999999/suspend/", {"reason": "r"}, {TRADER}),
    ("market resume", "post", "markets/999999/resume/", {"reason": "r"}, {TRADER}),
    ("market settle", "post", "markets/999999/settle/", {"void": True, "reason": "r"}, {TRADER}),
    ("kyc approve", "post", f"kyc/applications/{MISSING}/approve/", {"reason": "r"}, {COMPLIANCE}),
    ("kyc reject", "post", f"kyc/applications/{MISSING}/reject/", {"reason": "r"}, {COMPLIANCE}),
    ("kyc resubmission", "post", f"kyc/applications/{MISSING}/request-resubmission/",
     {"reason": "r"}, {COMPLIANCE}),
    ("aml status", "post", "players/999999/aml-status/", {"status": "review", "reason": "r"},
     {COMPLIANCE}),
    ("session close", "post", f"game-sessions/{MISSING}/close/", {"reason": "r"}, {SUPPORT}),
    ("discrepancy resolve", "post", "reconciliation/discrepancies/999999/resolve/",
     {"reason": "r"}, {PAYMENTS}),
    ("adjustment approve", "post", "adjustments/999999/approve/", {"reason": "r"}, {PAYMENTS}),
    ("adjustment reject", "post", "adjustments/999999/reject/", {"reason": "r"}, {PAYMENTS}),
    ("player search", "get", "players/?q=nobody", None, {SUPPORT, COMPLIANCE, PAYMENTS}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method", "path", "body", "allowed"), API,
                         ids=[a[0] for a in API])
def test_backoffice_api_by_role(role, name, method, path, body, allowed, make_api):
    api = make_api(make_staff(role))
    url = f"/api/v1/backoffice/{path}"
    resp = api.post(url, body, format="json") if method == "post" else api.get(url)
    if role == ADMINISTRATOR or role in allowed:
        assert resp.status_code != 403, f"{role} should be allowed to {name}"
        assert resp.status_code in (200, 400, 404), resp.content
    else:
        assert resp.status_code == 403, f"{role} must not {name} (got {resp.status_code})"
        assert resp.json()["code"] == "permission_denied"


@pytest.mark.parametrize("role", ROLES)
def test_adjustment_propose_api_by_role(role, make_api):
    player = make_player()
    api = make_api(make_staff(role))
    resp = api.post("/api/v1/backoffice/adjustments/", {
        "player_id": player.pk, "amount": "5.00", "currency": "USD", "direction": "credit",
        "reason": "goodwill"}, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{role}")
    if role in (SUPPORT, ADMINISTRATOR):
        assert resp.status_code == 201 and resp.json()["amount"] == "5.00"
        assert resp.json()["status"] == "proposed"
    else:
        assert resp.status_code == 403
    assert balances(player)["cash"] == 0
