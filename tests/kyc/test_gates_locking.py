"""Issue 11: the compliance gates run inside the money transaction, on the player's locked
compliance row. A block committing while a money operation is in flight is ordered with it:
the operation either committed first, or it waits for the block and is refused."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

import kyc.services
from common.gates import Operation, gates_check
from kyc.errors import AccountRestricted
from kyc.models import AMLProfile
from kyc.services import aml_status_change
from tests.factories import balances, make_player, make_staff
from tests.wallet.conftest import signed_post
from users.roles import COMPLIANCE
from wallet.models import Deposit, ProviderCallback, Withdrawal
from wallet.services import deposit_create, withdrawal_approve, withdrawal_request

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_S = 30


@pytest.fixture(autouse=True)
def _no_kyc_threshold(settings):
    settings.KYC_WITHDRAWAL_THRESHOLD = "1000000"
    settings.WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = ""


def _in_thread(fn, results: dict, name: str) -> threading.Thread:
    def run():
        try:
            results[name] = fn()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _backends_waiting_on_a_lock() -> int:
    with connections["default"].cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")
        return cur.fetchone()[0]


def _block(player_id: int, officer) -> AMLProfile:
    return aml_status_change(player_id=player_id, status="blocked", reason="sanctions hit",
                             actor=officer, now=timezone.now())


def _withdraw(player, amount=1_000):
    return withdrawal_request(player=player, amount=amount, currency="USD",
                              destination="iban:DE00", now=timezone.now())


def _pause_aml_change_before_commit(monkeypatch):
    """Hold aml_status_change inside its transaction (after it wrote the new status)."""
    inside, release = threading.Event(), threading.Event()
    real_emit = kyc.services.emit

    def paused_emit(**kwargs):
        result = real_emit(**kwargs)
        if kwargs.get("topic") == "aml.status_changed":
            inside.set()
            assert release.wait(WAIT_S)
        return result

    monkeypatch.setattr(kyc.services, "emit", paused_emit)
    return inside, release


def test_withdrawal_waits_for_a_block_in_flight_and_is_refused(monkeypatch):
    player = make_player(funds={"USD": 10_000})
    officer = make_staff(COMPLIANCE)
    inside, release = _pause_aml_change_before_commit(monkeypatch)
    results: dict = {}

    blocker = _in_thread(lambda: _block(player.pk, officer), results, "block")
    assert inside.wait(WAIT_S)
    withdrawer = _in_thread(lambda: _withdraw(player), results, "withdrawal")
    # Before the fix the withdrawal read the (still clear) status without a lock and committed.
    _wait_until(lambda: _backends_waiting_on_a_lock() >= 1 or not withdrawer.is_alive(),
                "the withdrawal to wait on the compliance row")
    release.set()
    blocker.join(WAIT_S)
    withdrawer.join(WAIT_S)

    assert isinstance(results["block"], AMLProfile)
    assert isinstance(results["withdrawal"], AccountRestricted), results["withdrawal"]
    assert Withdrawal.objects.filter(player=player).count() == 0
    assert balances(player) == {"cash": 10_000, "reserved": 0, "bonus": 0}


def test_block_waits_for_a_withdrawal_in_flight(settings):
    player = make_player(funds={"USD": 10_000})
    officer = make_staff(COMPLIANCE)
    inside, release = threading.Event(), threading.Event()
    _PAUSE.update(inside=inside, release=release, player_id=player.pk)
    settings.COMPLIANCE_GATES = [*settings.COMPLIANCE_GATES, f"{__name__}.pausing_gate"]
    results: dict = {}

    withdrawer = _in_thread(lambda: _withdraw(player), results, "withdrawal")
    assert inside.wait(WAIT_S), "the gates did not run inside the withdrawal"
    blocker = _in_thread(lambda: _block(player.pk, officer), results, "block")
    _wait_until(lambda: _backends_waiting_on_a_lock() >= 1 or not blocker.is_alive(),
                "the block to wait on the compliance row")
    # The withdrawal holds the compliance row (created in its transaction): the block has
    # not committed.
    assert blocker.is_alive()
    assert AMLProfile.objects.filter(player=player, status="blocked").count() == 0
    release.set()
    withdrawer.join(WAIT_S)
    blocker.join(WAIT_S)

    assert isinstance(results["withdrawal"], Withdrawal), results["withdrawal"]
    assert balances(player) == {"cash": 9_000, "reserved": 1_000, "bonus": 0}
    assert AMLProfile.objects.get(player=player).status == "blocked"
    _PAUSE.clear()
    with pytest.raises(AccountRestricted):
        _withdraw(player)
    assert balances(player) == {"cash": 9_000, "reserved": 1_000, "bonus": 0}


_PAUSE: dict = {}


def pausing_gate(ctx) -> None:
    if _PAUSE.get("player_id") == ctx.player_id and ctx.operation == Operation.WITHDRAWAL_REQUEST:
        _PAUSE["inside"].set()
        assert _PAUSE["release"].wait(WAIT_S)


def test_compliance_row_is_created_once_by_parallel_first_operations():
    player = make_player(funds={"USD": 10_000})
    assert not AMLProfile.objects.filter(player=player).exists()
    n = 8
    barrier = threading.Barrier(n)
    results: dict = {}

    def first_use():
        barrier.wait()
        with transaction.atomic():
            return gates_check(operation=Operation.BET_PLACE, player_id=player.pk, amount=1,
                               currency="USD").compliance.status

    threads = [_in_thread(first_use, results, str(i)) for i in range(n)]
    for t in threads:
        t.join(WAIT_S)
    assert list(results.values()) == ["clear"] * n, results
    assert AMLProfile.objects.filter(player=player).count() == 1


def test_approval_after_a_block_is_refused():
    player = make_player(funds={"USD": 10_000})
    withdrawal = _withdraw(player)
    _block(player.pk, make_staff(COMPLIANCE))
    with pytest.raises(AccountRestricted):
        withdrawal_approve(withdrawal_id=withdrawal.pk, actor=make_staff(), now=timezone.now())
    withdrawal = Withdrawal.objects.get(pk=withdrawal.pk)
    assert withdrawal.status == "requested" and withdrawal.decided_by_id is None


def test_blocked_player_cannot_open_a_deposit():
    player = make_player()
    _block(player.pk, make_staff(COMPLIANCE))
    with pytest.raises(AccountRestricted):
        deposit_create(player=player, amount=1_000, currency="USD", provider="sandbox",
                       now=timezone.now())
    client = APIClient()
    client.force_authenticate(player)
    res = client.post("/api/v1/payments/deposits/",
                      {"amount": "10.00", "currency": "USD", "provider": "sandbox"},
                      format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert res.status_code == 403 and res.json()["code"] == "account_restricted"
    assert Deposit.objects.filter(player=player).count() == 0


def test_deposit_started_before_a_block_is_credited_and_flagged_for_review(settings):
    settings.SANDBOX_PROVIDER_SECRET = "sandbox-test-secret"
    player = make_player()
    deposit = deposit_create(player=player, amount=2_500, currency="USD", provider="sandbox",
                             now=timezone.now())
    _block(player.pk, make_staff(COMPLIANCE))
    res = signed_post(APIClient(), {"event": "deposit.succeeded", "provider_transaction_id": "psp-9",
                                    "reference": str(deposit.pk), "amount": "25.00",
                                    "currency": "USD"})
    assert res.status_code == 200 and res.json()["outcome"] == "applied"
    # Never lose the money: it is in the player's (frozen) cash, and staff must look at it.
    assert balances(player)["cash"] == 2_500
    callback = ProviderCallback.objects.get(provider_transaction_id="psp-9")
    assert callback.needs_review and callback.outcome_code == "aml_blocked"
