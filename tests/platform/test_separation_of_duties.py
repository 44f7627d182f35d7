"""Separation of duties, through the real API: the self-dealing paths of issue 12.

A trader deposited, moved a price to 50.00, bet 10.00 on it and settled the market before
kick-off (paid 500.00); a payments officer requested a withdrawal and approved it himself; a
compliance officer submitted her own KYC and approved it. Each is refused now, writes
nothing, and the database refuses the same rows if a service forgot to.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from betting.models import Bet, Market, MarketSettlement
from kyc.models import KYCApplication, KYCStatus
from sessions.models import GameSession
from tests.betting.conftest import make_market, selections_of
from tests.factories import balances, fund_player, make_player, make_staff
from tests.kyc.conftest import good_documents
from users.models import User
from users.roles import COMPLIANCE, PAYMENTS, SUPPORT, TRADER
from wallet.models import Deposit, Transaction, Withdrawal, WithdrawalStatus

pytestmark = pytest.mark.django_db

BO = "/api/v1/backoffice"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.KYC_WITHDRAWAL_THRESHOLD = "100000"  # withdrawals here need no approved KYC


def key() -> str:
    return uuid.uuid4().hex


def promote(user: User, role: str) -> User:
    """The player becomes staff (hired into `role`): what they started as a player remains."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return User.objects.get(pk=user.pk)


def _withdraw(client, amount="50.00"):
    return client.post("/api/v1/payments/withdrawals/",
                       {"amount": amount, "currency": "USD", "destination": "iban:DE00"},
                       format="json", HTTP_IDEMPOTENCY_KEY=key())


# --- the trader ---------------------------------------------------------------------------


def test_trader_cannot_deposit_bet_or_settle_before_kickoff_and_is_paid_nothing(make_api):
    trader = make_staff(TRADER)
    fund_player(trader, 1_000)  # money the trader held as a player before being hired
    api = make_api(trader)
    market = make_market(starts_at=timezone.now() + timedelta(hours=2), in_play=False)
    home, _ = selections_of(market)

    deposit = api.post("/api/v1/payments/deposits/",
                       {"amount": "100.00", "currency": "USD", "provider": "sandbox"},
                       format="json", HTTP_IDEMPOTENCY_KEY=key())
    assert (deposit.status_code, deposit.json()["code"]) == (403, "staff_account")

    moved = api.patch(f"{BO}/selections/{home.pk}/", {"odds": "50.00", "reason": "r"},
                      format="json")
    assert moved.status_code == 200  # pricing is the trader's job...

    bet = api.post("/api/v1/betting/bets/", {"selection_id": home.pk, "odds": "50.00",
                                             "stake": "10.00", "currency": "USD"},
                   format="json", HTTP_IDEMPOTENCY_KEY=key())
    assert (bet.status_code, bet.json()["code"]) == (403, "staff_account")  # ...betting is not

    settle = api.post(f"{BO}/markets/{market.pk}/settle/",
                      {"winning_selection_ids": [home.pk]}, format="json")
    assert (settle.status_code, settle.json()["code"]) == (409, "event_not_started")
    void = api.post(f"{BO}/markets/{market.pk}/settle/", {"void": True}, format="json")
    assert (void.status_code, void.json()["code"]) == (400, "reason_required")

    market.refresh_from_db()
    assert market.status == "open" and market.settlement_version == 0
    assert (Deposit.objects.count(), Bet.objects.count(), MarketSettlement.objects.count()) == (0, 0, 0)
    assert balances(trader) == {"cash": 1_000, "reserved": 0, "bonus": 0}

    void = api.post(f"{BO}/markets/{market.pk}/settle/", {"void": True, "reason": "called off"},
                    format="json")
    assert void.status_code == 202 and void.json()["status"] == "voided"


def test_a_trader_who_moved_a_price_cannot_be_paid_by_it_even_with_an_old_player_account(make_api):
    """The account that moved the price cannot bet it; a colleague's player account could only
    bet if it were not staff: staff accounts never hold a bet, whichever staff moved the price."""
    trader = make_staff(TRADER)
    colleague = make_staff(SUPPORT)
    fund_player(colleague, 10_000)
    market = make_market()
    home, _ = selections_of(market)
    assert make_api(trader).patch(f"{BO}/selections/{home.pk}/", {"odds": "50.00"},
                                  format="json").status_code == 200
    for who in (trader, colleague):
        bet = make_api(who).post("/api/v1/betting/bets/",
                                 {"selection_id": home.pk, "odds": "50.00", "stake": "10.00",
                                  "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY=key())
        assert (bet.status_code, bet.json()["code"]) == (403, "staff_account")
    assert Bet.objects.count() == 0
    assert balances(colleague)["cash"] == 10_000


def test_staff_with_a_player_bet_from_before_cannot_settle_it_before_kickoff(make_api):
    player = make_player(funds={"USD": 10_000})
    market = make_market(starts_at=timezone.now() + timedelta(hours=1), in_play=False)
    home, _ = selections_of(market)
    placed = make_api(player).post("/api/v1/betting/bets/",
                                   {"selection_id": home.pk, "odds": "3.200", "stake": "10.00",
                                    "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY=key())
    assert placed.status_code == 201
    trader = promote(player, TRADER)
    settle = make_api(trader).post(f"{BO}/markets/{market.pk}/settle/",
                                   {"winning_selection_ids": [home.pk]}, format="json")
    assert (settle.status_code, settle.json()["code"]) == (409, "event_not_started")
    assert Bet.objects.get().status == "open"
    assert balances(player) == {"cash": 9_000, "reserved": 1_000, "bonus": 0}


# --- in-play ------------------------------------------------------------------------------


def test_a_started_event_takes_bets_only_on_in_play_markets(make_api):
    player = make_player(funds={"USD": 10_000})
    api = make_api(player)
    started = timezone.now() - timedelta(minutes=5)
    pre_match = make_market(starts_at=started, in_play=False, event_name="pre")
    live = make_market(starts_at=started, in_play=True, event_name="live")
    for market, expected in ((pre_match, (409, "event_started")), (live, (201, None))):
        home, _ = selections_of(market)
        response = api.post("/api/v1/betting/bets/",
                            {"selection_id": home.pk, "odds": "3.200", "stake": "1.00",
                             "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY=key())
        assert (response.status_code, response.json().get("code")) == expected
    assert Bet.objects.get().legs.get().market_id == live.pk
    assert balances(player) == {"cash": 9_900, "reserved": 100, "bonus": 0}


def test_the_event_list_says_which_markets_are_in_play(make_api):
    make_market(in_play=True, event_name="live")
    make_market(starts_at=timezone.now() + timedelta(hours=1), in_play=False, event_name="pre")
    body = make_api(make_player()).get("/api/v1/betting/events/").json()
    flags = {e["name"]: e["markets"][0]["in_play"] for e in body}
    assert flags == {"live": True, "pre": False}


def test_a_trader_creates_an_in_play_market_through_the_api(make_api):
    response = make_api(make_staff(TRADER)).post(f"{BO}/events/", {
        "name": "Live", "starts_at": "2030-01-01T12:00:00Z",
        "markets": [{"name": "Next goal", "in_play": True,
                     "selections": [{"name": "A", "odds": "2.0"}, {"name": "B", "odds": "2.0"}]},
                    {"name": "Result", "selections": [{"name": "A", "odds": "2.0"}]}]},
        format="json")
    assert response.status_code == 201
    assert [m["in_play"] for m in response.json()["markets"]] == [True, False]
    assert list(Market.objects.order_by("id").values_list("in_play", flat=True)) == [True, False]


# --- the payments officer -----------------------------------------------------------------


def test_payments_officer_cannot_withdraw_nor_approve_his_own_withdrawal(make_api):
    player = make_player(funds={"USD": 10_000})
    requested = _withdraw(make_api(player))
    assert requested.status_code == 201
    officer = promote(player, PAYMENTS)
    api = make_api(officer)

    again = _withdraw(api)
    assert (again.status_code, again.json()["code"]) == (403, "staff_account")
    for action in ("approve", "reject"):
        response = api.post(f"{BO}/withdrawals/{requested.json()['id']}/{action}/",
                            {"reason": "mine"}, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "self_approval_refused")

    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.status, withdrawal.decided_by_id) == (WithdrawalStatus.REQUESTED, None)
    assert balances(officer) == {"cash": 5_000, "reserved": 5_000, "bonus": 0}
    # A colleague may decide it.
    colleague = make_api(make_staff(PAYMENTS))
    assert colleague.post(f"{BO}/withdrawals/{withdrawal.pk}/approve/", {},
                          format="json").status_code == 200


def test_the_second_approval_by_the_first_approver_is_the_same_refusal(make_api, settings):
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = "10.00"
    player = make_player(funds={"USD": 10_000})
    wid = _withdraw(make_api(player)).json()["id"]
    first = make_api(make_staff(PAYMENTS))
    assert first.post(f"{BO}/withdrawals/{wid}/approve/", {}, format="json").status_code == 200
    again = first.post(f"{BO}/withdrawals/{wid}/approve/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (403, "self_approval_refused")
    assert Withdrawal.objects.get().status == WithdrawalStatus.REQUESTED


# --- the compliance officer ---------------------------------------------------------------


def test_compliance_officer_cannot_submit_nor_decide_her_own_kyc(make_api):
    player = make_player()
    submitted = make_api(player).post("/api/v1/kyc/applications/", good_documents(),
                                      format="multipart", HTTP_IDEMPOTENCY_KEY=key())
    assert submitted.status_code == 201
    officer = promote(player, COMPLIANCE)
    api = make_api(officer)
    application_id = submitted.json()["application_id"]

    for action, body in (("approve", {}), ("reject", {"reason": "r"}),
                         ("request-resubmission", {"reason": "r"})):
        response = api.post(f"{BO}/kyc/applications/{application_id}/{action}/", body,
                            format="json")
        assert (response.status_code, response.json()["code"]) == (403, "self_approval_refused")
    application = KYCApplication.objects.get()
    assert (application.status, application.reviewer_id) == (KYCStatus.SUBMITTED, None)
    assert application.history.count() == 1

    own = api.post("/api/v1/kyc/applications/", good_documents(), format="multipart",
                   HTTP_IDEMPOTENCY_KEY=key())
    assert (own.status_code, own.json()["code"]) == (403, "staff_account")
    assert KYCApplication.objects.count() == 1

    colleague = make_api(make_staff(COMPLIANCE))
    assert colleague.post(f"{BO}/kyc/applications/{application_id}/approve/", {},
                          format="json").status_code == 200


# --- playing, registering -----------------------------------------------------------------


def test_staff_cannot_start_a_game_session_nor_launch_a_casino_game(make_api):
    staff = make_staff(SUPPORT)
    fund_player(staff, 1_000)
    api = make_api(staff)
    session = api.post("/api/v1/games/sessions/", {"game": "hilo", "currency": "USD"},
                       format="json", HTTP_IDEMPOTENCY_KEY=key())
    assert (session.status_code, session.json()["code"]) == (403, "staff_account")
    launch = api.post("/api/v1/casino/launch/", {"provider": "sandbox", "game": "g",
                                                 "currency": "USD"},
                      format="json", HTTP_IDEMPOTENCY_KEY=key())
    assert (launch.status_code, launch.json()["code"]) == (403, "staff_account")
    assert GameSession.objects.count() == 0


def test_staff_logged_in_cannot_register_a_player_account(client, api):
    staff = make_staff(SUPPORT)
    client.force_login(staff)  # the admin session
    body = {"username": "alter-ego", "email": "alter@example.test",
            "password": "a-long-enough-password-1"}
    response = client.post("/api/v1/auth/register/", body, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (403, "staff_account")
    assert not User.objects.filter(username="alter-ego").exists()

    # Anyone else may register, a stale or bogus credential notwithstanding.
    anonymous = api.post("/api/v1/auth/register/", body, format="json",
                         HTTP_AUTHORIZATION="Bearer not-a-token")
    assert anonymous.status_code == 201
    assert User.objects.get(username="alter-ego").is_staff is False


def test_staff_api_credential_cannot_register_a_player_account(make_api):
    response = make_api(make_staff(TRADER)).post(
        "/api/v1/auth/register/", {"username": "alter-ego", "email": "alter@example.test",
                                   "password": "a-long-enough-password-1"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "staff_account")
    assert not User.objects.filter(username="alter-ego").exists()


def test_staff_refusal_holds_with_every_configurable_gate_removed(make_api, settings):
    settings.COMPLIANCE_GATES = []
    staff = make_staff(PAYMENTS)
    fund_player(staff, 10_000)
    assert _withdraw(make_api(staff)).json()["code"] == "staff_account"
    assert Withdrawal.objects.count() == 0
    assert Transaction.objects.filter(kind="withdrawal_reserve").count() == 0


# --- the database says it too -------------------------------------------------------------


def _refused_by_the_database(sql: str, params: list) -> None:
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, params)


def test_database_refuses_staff_rows_and_self_decisions():
    staff = make_staff(PAYMENTS)
    player = make_player(funds={"USD": 10_000})
    _refused_by_the_database(
        "INSERT INTO wallet_deposit (id, player_id, amount, currency, provider, status, "
        "provider_transaction_id, failure_reason, created_at, updated_at) "
        "VALUES (%s, %s, 100, 'USD', 'sandbox', 'pending', '', '', now(), now())",
        [uuid.uuid4(), staff.pk])
    _refused_by_the_database(
        "INSERT INTO kyc_kycapplication (id, player_id, status, decision_reason, "
        "reapply_allowed, submitted_at, created_at, updated_at) "
        "VALUES (%s, %s, 'submitted', '', false, now(), now(), now())",
        [uuid.uuid4(), staff.pk])

    withdrawal = Withdrawal.objects.create(player=player, amount=100, currency="USD",
                                           destination="iban:DE00")
    _refused_by_the_database("UPDATE wallet_withdrawal SET decided_by_id = player_id WHERE id = %s",
                             [withdrawal.pk])
    _refused_by_the_database(
        "UPDATE wallet_withdrawal SET decided_by_id = %s, second_approver_id = %s WHERE id = %s",
        [staff.pk, staff.pk, withdrawal.pk])
    application = KYCApplication.objects.create(player=player, submitted_at=timezone.now())
    _refused_by_the_database("UPDATE kyc_kycapplication SET reviewer_id = player_id WHERE id = %s",
                             [application.pk])
