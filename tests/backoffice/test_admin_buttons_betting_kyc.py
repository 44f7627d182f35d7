"""Market and KYC transition buttons in the admin: offered only to the right role and only
while the transition is allowed, each asking for a reason that lands in the history with
the staff member; a wrong role gets no button and 403, a blank reason changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from betting import services as betting
from betting.models import Market, MarketSettlement
from kyc import services as kyc
from kyc.models import KYCApplication
from tests.betting.conftest import make_market, selections_of
from tests.factories import make_player, make_staff
from tests.kyc.conftest import submit
from users.roles import ADMINISTRATOR, COMPLIANCE, PAYMENTS, SUPPORT, TRADER

from .conftest import verified_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.BACKOFFICE_REQUIRE_OTP = False
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


# --- objects in a given state -------------------------------------------------------------


def _market(state: str) -> Market:
    market = make_market()
    home = selections_of(market)[0]
    now = timezone.now()
    if state == "suspended":
        betting.market_suspend(market_id=market.pk, actor=None, reason="setup", now=now)
    elif state == "settled":
        betting.market_settle(market_id=market.pk, winning_selection_ids=[home.pk], actor=None,
                              reason="setup", now=now)
    return Market.objects.get(pk=market.pk)


def _application(state: str, make_api) -> KYCApplication:
    res = submit(make_api(make_player()))
    assert res.status_code == 201, res.content
    app_id = res.json()["application_id"]
    officer, now = make_staff(COMPLIANCE), timezone.now()
    if state == "approved":
        kyc.kyc_application_approve(application_id=app_id, actor=officer, reason="ok", now=now)
    elif state == "rejected":
        kyc.kyc_application_reject(application_id=app_id, actor=officer, reason="bad", now=now)
    return KYCApplication.objects.get(pk=app_id)


def _market_state(market: Market):
    m = Market.objects.get(pk=market.pk)
    return (m.status, m.winning_selection_ids, m.settlement_version, m.history.count(),
            MarketSettlement.objects.filter(market=m).count())


def _application_state(app: KYCApplication):
    a = KYCApplication.objects.get(pk=app.pk)
    return (a.status, a.reapply_allowed, a.reviewer_id, a.decision_reason, a.history.count())


# --- the buttons --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # "market" | "kyc"
    button: str
    state: str  # the state in which the button is allowed
    disallowed_state: str  # a state in which it is not
    roles: tuple[str, ...]
    wrong_roles: tuple[str, ...]
    data: Callable[[Any], dict]  # extra form data besides the reason
    check: Callable[[Any], None]  # the object after the transition
    history_reason: Callable[[str], str] = lambda reason: reason


MARKET_ROLES, MARKET_WRONG = (TRADER, ADMINISTRATOR), (SUPPORT, PAYMENTS, COMPLIANCE)
KYC_ROLES, KYC_WRONG = (COMPLIANCE, ADMINISTRATOR), (SUPPORT, PAYMENTS, TRADER)


def _winner(index: int):
    return lambda market: {"winners": [selections_of(market)[index].pk]}


def _status(expected: str):
    return lambda obj: _assert_eq(type(obj).objects.get(pk=obj.pk).status, expected)


def _assert_eq(got, expected):
    assert got == expected


def _settled_on(index: int, version: int):
    def check(market):
        m = Market.objects.get(pk=market.pk)
        assert (m.status, m.winning_selection_ids, m.settlement_version) == (
            "settled", [selections_of(m)[index].pk], version)
    return check


def _reapply_allowed(app):
    a = KYCApplication.objects.get(pk=app.pk)
    assert (a.status, a.reapply_allowed) == ("rejected", True)


CASES = [
    Case("market-suspend", "market", "suspend", "open", "suspended", MARKET_ROLES, MARKET_WRONG,
         lambda m: {}, _status("suspended")),
    Case("market-resume", "market", "resume", "suspended", "open", MARKET_ROLES, MARKET_WRONG,
         lambda m: {}, _status("open")),
    Case("market-settle", "market", "settle", "open", "settled", MARKET_ROLES, MARKET_WRONG,
         _winner(1), _settled_on(1, 1)),
    Case("market-void", "market", "settle", "suspended", "settled", MARKET_ROLES, MARKET_WRONG,
         lambda m: {"void": "on"}, _status("voided")),
    Case("market-resettle", "market", "resettle", "settled", "open", MARKET_ROLES, MARKET_WRONG,
         _winner(1), _settled_on(1, 2)),
    Case("kyc-approve", "kyc", "approve", "submitted", "approved", KYC_ROLES, KYC_WRONG,
         lambda a: {}, _status("approved")),
    Case("kyc-reject", "kyc", "reject", "submitted", "approved", KYC_ROLES, KYC_WRONG,
         lambda a: {}, _status("rejected")),
    Case("kyc-request-resubmission", "kyc", "request-resubmission", "submitted", "rejected",
         KYC_ROLES, KYC_WRONG, lambda a: {}, _status("resubmission_requested")),
    Case("kyc-allow-reapply", "kyc", "allow-reapply", "rejected", "submitted", KYC_ROLES,
         KYC_WRONG, lambda a: {}, _reapply_allowed,
         history_reason=lambda reason: f"reapply allowed: {reason}"),
]


@pytest.fixture
def build(make_api):
    def _build(case: Case, state: str):
        obj = _market(state) if case.kind == "market" else _application(state, make_api)
        return obj, _urls(case, obj)
    return _build


def _urls(case: Case, obj) -> tuple[str, str]:
    if case.kind == "market":
        base = f"/admin/betting/market/{obj.pk}/"
        return base + "change/", base + f"transition/{case.button}/"
    base = f"/admin/kyc/kycapplication/{obj.pk}/"
    return base + "change/", base + f"decide/{case.button}/"


def _snapshot(case: Case, obj):
    return _market_state(obj) if case.kind == "market" else _application_state(obj)


def _latest_history(obj):
    return type(obj).objects.get(pk=obj.pk).history.order_by("-history_date", "-history_id").first()


def _right_role_params():
    return [pytest.param(c, role, id=f"{c.id}-{role}") for c in CASES for role in c.roles]


def _wrong_role_params():
    return [pytest.param(c, role, id=f"{c.id}-{role}") for c in CASES for role in c.wrong_roles]


@pytest.mark.parametrize("case,role", _right_role_params())
def test_right_role_sees_and_uses_the_button_and_the_reason_is_recorded(case, role, build):
    obj, (change_url, url) = build(case, case.state)
    user = make_staff(role)
    client = verified_client(user)
    page = client.get(change_url)
    assert page.status_code == 200 and url in page.content.decode()
    assert client.get(url).status_code == 200  # the reason page

    reason = f"{case.id} by {role}"
    res = client.post(url, {**case.data(obj), "reason": reason})
    assert res.status_code == 302, res.content.decode()[:2000]
    case.check(obj)
    last = _latest_history(obj)
    assert (last.history_user_id, last.history_change_reason) == (user.pk,
                                                                 case.history_reason(reason))
    if case.button in ("settle", "resettle"):
        settlement = MarketSettlement.objects.filter(market_id=obj.pk).latest("version")
        assert (settlement.created_by_id, settlement.reason) == (user.pk, reason)


@pytest.mark.parametrize("case,role", _wrong_role_params())
def test_wrong_role_gets_no_button_and_403(case, role, build):
    obj, (change_url, url) = build(case, case.state)
    client = verified_client(make_staff(role))
    before = _snapshot(case, obj)
    page = client.get(change_url)
    assert url not in page.content.decode()
    assert client.get(url).status_code == 403
    assert client.post(url, {**case.data(obj), "reason": "not mine"}).status_code == 403
    assert _snapshot(case, obj) == before


@pytest.mark.parametrize("blank", ["", "   "])
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_missing_reason_is_refused_and_nothing_changes(case, blank, build):
    obj, (_, url) = build(case, case.state)
    client = verified_client(make_staff(case.roles[0]))
    before = _snapshot(case, obj)
    res = client.post(url, {**case.data(obj), "reason": blank})
    assert res.status_code == 200  # the form again, with its error
    assert "This field is required" in res.content.decode()
    assert _snapshot(case, obj) == before


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_transition_not_allowed_in_the_state_is_not_offered(case, build):
    obj, (change_url, url) = build(case, case.disallowed_state)
    client = verified_client(make_staff(case.roles[0]))
    page = client.get(change_url)
    assert page.status_code == 200 and url not in page.content.decode()
    before = _snapshot(case, obj)
    res = client.post(url, {**case.data(obj), "reason": "try anyway"}, follow=True)
    assert "not allowed" in res.content.decode()
    assert _snapshot(case, obj) == before


# --- special cases ------------------------------------------------------------------------


@pytest.mark.parametrize("data", [{}, {"void": "on", "winners": None}], ids=["neither", "both"])
def test_settle_needs_winners_or_void(data, build):
    case = next(c for c in CASES if c.id == "market-settle")
    obj, (_, url) = build(case, "open")
    client = verified_client(make_staff(TRADER))
    if "winners" in data:
        data = {**data, "winners": [selections_of(obj)[0].pk]}
    before = _snapshot(case, obj)
    res = client.post(url, {**data, "reason": "result in"})
    assert res.status_code == 200 and "not both or neither" in res.content.decode()
    assert _snapshot(case, obj) == before


def test_kyc_start_review_is_a_claim_recorded_with_the_officer(build):
    case = next(c for c in CASES if c.id == "kyc-approve")
    app, (change_url, _) = build(case, "submitted")
    url = f"/admin/kyc/kycapplication/{app.pk}/decide/start-review/"
    user = make_staff(COMPLIANCE)
    client = verified_client(user)
    assert url in client.get(change_url).content.decode()
    assert client.post(url).status_code == 302
    last = _latest_history(app)
    assert (last.status, last.history_user_id, last.history_change_reason) == (
        "in_review", user.pk, "review started")
    assert url not in client.get(change_url).content.decode()  # not offered once in review
    support = verified_client(make_staff(SUPPORT))
    assert support.post(url).status_code == 403


def test_bulk_suspend_asks_for_a_reason_first():
    markets = [_market("open"), _market("open")]
    user = make_staff(TRADER)
    client = verified_client(user)
    selected = [m.pk for m in markets]
    first = client.post("/admin/betting/market/",
                        {"action": "suspend_markets", "_selected_action": selected, "index": 0})
    assert first.status_code == 200 and 'name="reason"' in first.content.decode()
    assert [m.status for m in Market.objects.filter(pk__in=selected)] == ["open", "open"]

    blank = client.post("/admin/betting/market/", {"action": "suspend_markets",
                                                    "_selected_action": selected, "reason": ""})
    assert blank.status_code == 200
    assert [m.status for m in Market.objects.filter(pk__in=selected)] == ["open", "open"]

    done = client.post("/admin/betting/market/", {"action": "suspend_markets",
                                                   "_selected_action": selected,
                                                   "reason": "goal scored"})
    assert done.status_code == 302
    for market in Market.objects.filter(pk__in=selected):
        last = _latest_history(market)
        assert (market.status, last.history_user_id, last.history_change_reason) == (
            "suspended", user.pk, "goal scored")
    support = verified_client(make_staff(SUPPORT))
    res = support.post("/admin/betting/market/", {"action": "suspend_markets",
                                                  "_selected_action": selected, "reason": "x"})
    assert res.status_code == 403


def test_bulk_action_called_directly_needs_a_reason_in_the_request():
    from django.contrib.admin.sites import site
    from django.test import RequestFactory

    def request(user, data):
        req = RequestFactory().post("/admin/betting/market/", data)
        req.user = user
        req._messages = type("M", (), {"add": lambda *a, **k: None})()
        return req

    trader, market = make_staff(TRADER), _market("open")
    model_admin = site._registry[Market]
    page = model_admin.suspend_markets(request(trader, {}), Market.objects.filter(pk=market.pk))
    assert page.status_code == 200 and Market.objects.get(pk=market.pk).status == "open"
    model_admin.suspend_markets(request(trader, {"reason": "red card"}),
                                Market.objects.filter(pk=market.pk))
    last = _latest_history(market)
    assert (Market.objects.get(pk=market.pk).status, last.history_user_id,
            last.history_change_reason) == ("suspended", trader.pk, "red card")
