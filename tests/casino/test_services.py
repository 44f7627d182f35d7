"""The casino services and adapters in-process: policies, gates, rounds, free-spin and
jackpot wins, the launch endpoint, Hub88 wire details. (The conformance kit proves the
races and the contracts over HTTP.)"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from casino.adapters.hub88 import to_minor, to_wire
from casino.commands import (
    BalanceQuery,
    BetCommand,
    Caller,
    RollbackCommand,
    RoundEndCommand,
    WinCommand,
)
from casino.errors import (
    InvalidPayload,
    PlayerMismatch,
    RoundClosed,
    TokenExpired,
    TransactionNotFound,
    TransactionRolledBack,
)
from casino.models import CasinoRound, GameLaunch, ProviderTransaction, RoundStatus, TxStatus
from casino.services import (
    casino_balance,
    casino_bet,
    casino_rollback,
    casino_round_end,
    casino_win,
    game_launch,
    provider_user_id,
)
from kyc.errors import AccountRestricted
from kyc.services import aml_status_change
from reconciliation.checks import run_checks
from responsible.services import limit_set
from tests.casino.helpers import assert_ledger_reconciles
from tests.casino.kit import generate_keypair
from tests.factories import balances, make_player, make_staff
from wallet.models import Transaction

pytestmark = pytest.mark.django_db


def _policy(provider: str, **changes) -> dict:
    return {**settings.CASINO_PROVIDERS,
            provider: {**settings.CASINO_PROVIDERS[provider], **changes}}


def _launch(user, provider="sandbox", currency="USD", game="slot"):
    launched = game_launch(player=user, provider=provider, game=game, currency=currency,
                           now=timezone.now())
    return Caller(provider=provider, token=launched.token)


def _bet(caller, txid, rnd="r1", amount=100, **kw):
    return casino_bet(cmd=BetCommand(caller=caller, transaction_id=txid, round_id=rnd,
                                     game="slot", currency="USD", amount=amount, **kw),
                      now=timezone.now())


def _win(caller, txid, bet, rnd="r1", amount=500, **kw):
    return casino_win(cmd=WinCommand(caller=caller, transaction_id=txid, round_id=rnd,
                                     game="slot", currency="USD", amount=amount,
                                     reference_transaction_id=bet, **kw), now=timezone.now())


def _rollback(caller, txid, bet, rnd="r1", **kw):
    return casino_rollback(cmd=RollbackCommand(caller=caller, transaction_id=txid,
                                               reference_transaction_id=bet, round_id=rnd, **kw),
                           now=timezone.now())


def test_aml_block_refuses_bets_but_never_wins_or_rollbacks():
    user = make_player(funds={"USD": 10_000})
    officer = make_staff("compliance")
    caller = _launch(user)
    _bet(caller, "b1", amount=100)
    _bet(caller, "b2", rnd="r2", amount=200)
    aml_status_change(player_id=user.pk, status="blocked", reason="sanctions hit", actor=officer,
                      now=timezone.now())

    with pytest.raises(AccountRestricted) as refused:
        _bet(caller, "b3", rnd="r3", amount=100)
    assert refused.value.balance == 9_700  # the answer carries the balance
    assert not ProviderTransaction.objects.filter(transaction_id="b3").exists()

    assert _win(caller, "w1", "b1", amount=400).balance == 10_100
    assert _rollback(caller, "rb1", "b2", rnd="r2").balance == 10_300
    assert balances(user)["cash"] == 10_300
    assert_ledger_reconciles()


def test_win_after_rollback_credits_under_the_credit_policy():
    user = make_player(funds={"USD": 10_000})
    with override_settings(CASINO_PROVIDERS=_policy("sandbox", win_after_rollback="credit")):
        caller = _launch(user)
        _bet(caller, "b1", amount=300)
        _rollback(caller, "rb1", "b1")
        assert _win(caller, "w1", "b1", amount=900).balance == 10_900
    assert balances(user)["cash"] == 10_900
    assert_ledger_reconciles()


def test_win_after_rollback_is_refused_under_the_default_policy():
    user = make_player(funds={"USD": 10_000})
    caller = _launch(user)
    _bet(caller, "b1", amount=300)
    _rollback(caller, "rb1", "b1")
    with pytest.raises(TransactionRolledBack):
        _win(caller, "w1", "b1", amount=900)
    assert not ProviderTransaction.objects.filter(transaction_id="w1").exists()
    assert balances(user)["cash"] == 10_000


def test_unknown_rollback_under_the_error_policy_answers_not_found_and_still_blocks_the_bet():
    user = make_player(funds={"USD": 10_000})
    with override_settings(CASINO_PROVIDERS=_policy("sandbox", unknown_rollback="error")):
        caller = _launch(user)
        first = _rollback(caller, "rb1", "b-late")
        assert first.code == TransactionNotFound.code and first.balance == 10_000
        again = _rollback(caller, "rb1", "b-late")
        assert again.replayed and again.code == TransactionNotFound.code
        with pytest.raises(TransactionRolledBack):
            _bet(caller, "b-late", amount=100)
    assert ProviderTransaction.objects.get(transaction_id="b-late").status == TxStatus.TOMBSTONE
    assert balances(user)["cash"] == 10_000


def test_round_fsm_closes_on_the_flag_refuses_later_bets_and_rolls_back_when_all_bets_are():
    user = make_player(funds={"USD": 10_000})
    caller = _launch(user)
    _bet(caller, "b1", rnd="r1", amount=100)
    _win(caller, "w1", "b1", rnd="r1", amount=0, round_closed=True)  # a loss closes the round
    rnd = CasinoRound.objects.get(provider_round_id="r1")
    assert rnd.status == RoundStatus.CLOSED and rnd.bet_total == 100 and rnd.win_total == 0
    with pytest.raises(RoundClosed):
        _bet(caller, "b2", rnd="r1", amount=100)

    _bet(caller, "b3", rnd="r2", amount=100)
    _bet(caller, "b4", rnd="r2", amount=200)
    _rollback(caller, "rb3", "b3", rnd="r2")
    assert CasinoRound.objects.get(provider_round_id="r2").status == RoundStatus.OPEN
    _rollback(caller, "rb4", "b4", rnd="r2")
    r2 = CasinoRound.objects.get(provider_round_id="r2")
    assert r2.status == RoundStatus.ROLLED_BACK and r2.bet_total == 0
    assert [h.status for h in r2.history.order_by("history_id")] == ["rolled_back"]

    _bet(caller, "b5", rnd="r3", amount=100)
    casino_round_end(cmd=RoundEndCommand(caller=caller, round_id="r3"), now=timezone.now())
    assert CasinoRound.objects.get(provider_round_id="r3").status == RoundStatus.CLOSED
    assert balances(user)["cash"] == 10_000 - 100 - 100
    assert_ledger_reconciles()


def test_first_win_closes_the_round_under_that_policy():
    user = make_player(funds={"USD": 10_000})
    with override_settings(CASINO_PROVIDERS=_policy("sandbox", round_close="first_win")):
        caller = _launch(user)
        _bet(caller, "b1", amount=100)
        _win(caller, "w1", "b1", amount=50)
    assert CasinoRound.objects.get(provider_round_id="r1").status == RoundStatus.CLOSED


def test_free_spin_and_jackpot_wins_need_no_bet_and_a_free_bet_debits_nothing():
    user = make_player(funds={"USD": 1_000})
    caller = _launch(user)
    _bet(caller, "fb1", rnd="fs", amount=100, free=True)
    assert balances(user)["cash"] == 1_000
    _win(caller, "fw1", "", rnd="fs", amount=250, win_kind="free_spin")
    _win(caller, "jw1", "", rnd="jackpot-1", amount=50_000, win_kind="jackpot")
    assert balances(user)["cash"] == 51_250
    kinds = sorted(ProviderTransaction.objects.filter(kind="win").values_list("win_kind", flat=True))
    assert kinds == ["free_spin", "jackpot"]
    with pytest.raises(InvalidPayload):
        _win(caller, "w-noref", "", rnd="fs", amount=1)
    assert_ledger_reconciles()


def test_another_players_token_cannot_touch_a_bet():
    alice, mallory = make_player(funds={"USD": 1_000}), make_player(funds={"USD": 1_000})
    _bet(_launch(alice), "b1", amount=100)
    with pytest.raises(PlayerMismatch):
        _rollback(_launch(mallory), "rb1", "b1")
    with pytest.raises(PlayerMismatch):
        _win(_launch(mallory), "w1", "b1", amount=900)
    assert balances(alice)["cash"] == 900 and balances(mallory)["cash"] == 1_000


def test_ledger_rows_name_the_provider_transaction_and_the_rollback_reverses_the_bet():
    user = make_player(funds={"USD": 1_000})
    caller = _launch(user)
    _bet(caller, "b1", amount=100)
    _rollback(caller, "rb1", "b1")
    bet_txn = Transaction.objects.get(dedupe_key="casino:sandbox:b1")
    rollback_txn = Transaction.objects.get(dedupe_key="casino:sandbox:b1:rollback")
    assert rollback_txn.reverses_id == bet_txn.pk
    assert bet_txn.external_reference == "sandbox:b1"


# --- launch endpoint ---------------------------------------------------------------------------


def test_launch_endpoint_mints_a_bound_token_and_a_game_url(player_api, player):
    resp = player_api.post("/api/v1/casino/launch/",
                           {"provider": "hub88", "game": "clt_dragonrising", "currency": "EUR"},
                           format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["token"] in body["game_url"] and "clt_dragonrising" in body["game_url"]
    launch = GameLaunch.objects.get(pk=body["launch_id"])
    assert (launch.player_id, launch.currency, launch.game) == (player.pk, "EUR", "clt_dragonrising")
    assert launch.token_hash != body["token"]  # only the hash is stored
    ttl = launch.expires_at - launch.created_at
    assert ttl == timedelta(seconds=settings.CASINO_LAUNCH_TOKEN_TTL_S)


def test_launch_refuses_bad_input_staff_and_a_missing_idempotency_key(player_api, make_api):
    key = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex}
    assert player_api.post("/api/v1/casino/launch/", {"provider": "nope", "game": "g",
                                                      "currency": "USD"},
                           format="json", **key).json()["code"] == "unknown_provider"
    bad_ccy = player_api.post("/api/v1/casino/launch/", {"provider": "sandbox", "game": "g",
                                                         "currency": "XXX"},
                              format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert bad_ccy.status_code == 400 and bad_ccy.json()["code"] == "unknown_currency"
    no_key = player_api.post("/api/v1/casino/launch/", {"provider": "sandbox", "game": "g",
                                                        "currency": "USD"}, format="json")
    assert no_key.json()["code"] == "idempotency_key_required"
    staff = make_api(make_staff("support")).post(
        "/api/v1/casino/launch/", {"provider": "sandbox", "game": "g", "currency": "USD"},
        format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert staff.status_code == 403 and staff.json()["code"] == "staff_account"
    assert GameLaunch.objects.count() == 0


# --- Hub88 wire format ------------------------------------------------------------------------


def test_hub88_amounts_convert_exactly():
    assert to_minor(100_000, "USD") == 100 and to_wire(100, "USD") == 100_000
    assert to_minor(1, "BTC") == 1_000 and to_wire(1_999, "BTC") == 1  # balance rounds down
    with pytest.raises(InvalidPayload):
        to_minor(100_001, "USD")


@pytest.fixture
def hub88(settings):
    key, pem = generate_keypair()
    settings.CASINO_PROVIDERS = _policy("hub88", public_key=pem)

    def call(path: str, body: dict) -> dict:
        raw = json.dumps(body).encode()
        sig = base64.b64encode(key.sign(raw, padding.PKCS1v15(), hashes.SHA256())).decode()
        resp = Client().post(f"/api/v1/casino/hub88/{path}", data=raw,
                             content_type="application/json", HTTP_X_HUB88_SIGNATURE=sig)
        assert resp.status_code == 200
        return resp.json()

    return call


def test_hub88_answers_wrong_syntax_and_wrong_types_and_writes_nothing(hub88):
    user = make_player(funds={"USD": 1_000})
    caller = _launch(user, provider="hub88")
    base = {"user": provider_user_id(user.pk), "token": caller.token, "request_uuid": "rq-1",
            "game_code": "slot", "round": "r1", "transaction_uuid": "t1", "currency": "USD"}
    assert hub88("transaction/bet", {**base})["status"] == "RS_ERROR_WRONG_SYNTAX"  # no amount
    assert hub88("transaction/bet", {**base, "amount": "1.00"})["status"] == "RS_ERROR_WRONG_TYPES"
    assert hub88("transaction/bet", {**base, "amount": 100_001})["status"] == "RS_ERROR_WRONG_TYPES"
    assert hub88("transaction/bet", {**base, "amount": 100_000, "user": "player-0"})["status"] \
        == "RS_ERROR_INVALID_TOKEN"
    assert hub88("transaction/bet", {**base, "amount": 100_000, "game_code": "other"})["status"] \
        == "RS_ERROR_INVALID_GAME"
    assert ProviderTransaction.objects.count() == 0
    ok = hub88("transaction/bet", {**base, "amount": 100_000})
    assert ok == {"user": provider_user_id(user.pk), "request_uuid": "rq-1", "status": "RS_OK",
                  "currency": "USD", "balance": 900_000}
    bal = hub88("user/balance", {"user": base["user"], "token": caller.token,
                                 "request_uuid": "rq-2", "game_code": "slot"})
    assert bal["status"] == "RS_OK" and bal["balance"] == 900_000


def test_hub88_blocked_player_is_user_disabled(hub88):
    user = make_player(funds={"USD": 1_000})
    aml_status_change(player_id=user.pk, status="blocked", reason="fraud", now=timezone.now(),
                      actor=make_staff("compliance"))
    caller = _launch(user, provider="hub88")
    answer = hub88("transaction/bet", {
        "user": provider_user_id(user.pk), "token": caller.token, "request_uuid": "rq-1",
        "game_code": "slot", "round": "r1", "transaction_uuid": "t1", "currency": "USD",
        "amount": 100_000})
    assert answer["status"] == "RS_ERROR_USER_DISABLED" and answer["balance"] == 100_000 * 10


def test_unknown_provider_and_action_are_404():
    assert Client().post("/api/v1/casino/nope/bet", data=b"{}",
                         content_type="application/json").status_code == 404
    assert Client().post("/api/v1/casino/sandbox/deposit", data=b"{}",
                         content_type="application/json").json()["code"] == "unknown_action"


def test_expired_token_is_refused_for_balance_too():
    user = make_player()
    caller = _launch(user)
    GameLaunch.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(TokenExpired):
        casino_balance(query=BalanceQuery(caller=caller), now=timezone.now())


def test_the_casino_reconciliation_check_finds_a_transaction_without_its_posting():
    user = make_player(funds={"USD": 1_000})
    caller = _launch(user)
    _bet(caller, "b1", amount=100)
    _win(caller, "w1", "b1", amount=300)
    assert run_checks(now=timezone.now(), only=["casino"]) == []

    # Drift: a win recorded as applied with a different amount, and one with no posting.
    ProviderTransaction.objects.filter(transaction_id="w1").update(amount=400)
    ProviderTransaction.objects.filter(transaction_id="b1").update(ledger_transaction=None)
    findings = {f.fingerprint: f for f in run_checks(now=timezone.now(), only=["casino"])}
    assert findings["casino_ledger_mismatch:sandbox:w1"].expected == 400
    assert findings["casino_ledger_mismatch:sandbox:w1"].actual == 300
    assert findings["casino_ledger_mismatch:sandbox:b1"].actual is None
    # ... and the bet's posting is now an orphan.
    orphan = [f for f in findings.values() if f.fingerprint.startswith("casino_ledger_mismatch:ledger:")]
    assert len(orphan) == 1 and orphan[0].detail["kind"] == "casino_bet"


def test_admin_lists_a_players_rounds_with_their_transactions(client, settings):
    settings.BACKOFFICE_REQUIRE_OTP = False  # the OTP login has its own tests
    alice, bob = make_player(funds={"USD": 1_000}), make_player(funds={"USD": 1_000})
    _bet(_launch(alice), "alice-bet", rnd="alice-round", amount=100)
    _bet(_launch(bob), "bob-bet", rnd="bob-round", amount=100)
    call_command("sync_roles")
    client.force_login(make_staff("support_agent"))

    listing = client.get(f"/admin/casino/casinoround/?player__id__exact={alice.pk}")
    assert listing.status_code == 200
    assert b"alice-round" in listing.content and b"bob-round" not in listing.content
    rnd = CasinoRound.objects.get(provider_round_id="alice-round")
    page = client.get(f"/admin/casino/casinoround/{rnd.pk}/change/")
    assert page.status_code == 200 and b"alice-bet" in page.content
    assert client.post(f"/admin/casino/casinoround/{rnd.pk}/change/", {}).status_code == 403


def test_responsible_gambling_wager_limit_refuses_provider_bets_but_not_wins(hub88):
    user = make_player(funds={"USD": 10_000})
    limit_set(player=user, kind="wager", period="day", currency="USD", amount=200,
              now=timezone.now())
    caller = _launch(user, provider="hub88")
    base = {"user": provider_user_id(user.pk), "token": caller.token, "game_code": "slot",
            "currency": "USD"}
    first = hub88("transaction/bet", {**base, "request_uuid": "q1", "round": "r1",
                                      "transaction_uuid": "b1", "amount": 150_000})
    assert first["status"] == "RS_OK"
    over = hub88("transaction/bet", {**base, "request_uuid": "q2", "round": "r2",
                                     "transaction_uuid": "b2", "amount": 100_000})
    assert over["status"] == "RS_ERROR_LIMIT_REACHED" and over["balance"] == 9_850_000
    win = hub88("transaction/win", {**base, "request_uuid": "q3", "round": "r1",
                                    "transaction_uuid": "w1", "reference_transaction_uuid": "b1",
                                    "amount": 5_000_000, "round_closed": True})
    assert win["status"] == "RS_OK" and win["balance"] == 14_850_000
    assert not ProviderTransaction.objects.filter(transaction_id="b2").exists()
