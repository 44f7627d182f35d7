"""Every history row records who decided and through which channel; the admin's transition
screens refuse the same self-dealing as the API."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from backoffice.roles import roles_sync
from kyc.models import KYCApplication, KYCStatus
from tests.backoffice.conftest import verified_client
from tests.backoffice.test_roles import _open_withdrawal
from tests.factories import balances, make_player, make_staff
from users.models import User
from users.roles import COMPLIANCE, PAYMENTS
from wallet.models import Withdrawal, WithdrawalStatus
from wallet.services import withdrawal_approve

pytestmark = pytest.mark.django_db

BO = "/api/v1/backoffice"


@pytest.fixture(autouse=True)
def _roles(db):
    roles_sync()


def promote(user: User, role: str) -> User:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return User.objects.get(pk=user.pk)


def _last(obj):
    row = obj.history.order_by("-history_id").first()
    return row.history_user_id, row.history_channel, row.history_change_reason


def test_an_admin_decision_records_its_actor_and_the_admin_channel(django_capture_on_commit_callbacks):
    officer = make_staff(PAYMENTS)
    w = _open_withdrawal(make_player(funds={"USD": 1_000}))
    with django_capture_on_commit_callbacks(execute=False):
        response = verified_client(officer).post(
            f"/admin/wallet/withdrawal/{w.pk}/transition/approve/", {"reason": "docs ok"})
    assert response.status_code == 302
    w = Withdrawal.objects.get(pk=w.pk)
    assert w.status == WithdrawalStatus.APPROVED
    assert _last(w) == (officer.pk, "admin", "docs ok")


def test_an_api_decision_records_its_actor_and_the_api_channel(make_api, django_capture_on_commit_callbacks):
    officer = make_staff(PAYMENTS)
    player = make_player(funds={"USD": 1_000})
    w = _open_withdrawal(player)
    with django_capture_on_commit_callbacks(execute=False):
        response = make_api(officer).post(f"{BO}/withdrawals/{w.pk}/approve/",
                                          {"reason": "checked"}, format="json")
    assert response.status_code == 200
    w = Withdrawal.objects.get(pk=w.pk)
    assert _last(w) == (officer.pk, "api", "checked")


def test_a_player_request_records_the_player_and_the_api_channel(make_api, settings):
    settings.KYC_WITHDRAWAL_THRESHOLD = "100000"
    player = make_player(funds={"USD": 1_000})
    response = make_api(player).post("/api/v1/payments/withdrawals/",
                                     {"amount": "5.00", "currency": "USD", "destination": "x"},
                                     format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert response.status_code == 201
    assert _last(Withdrawal.objects.get()) == (player.pk, "api", "withdrawal requested")


def test_a_change_outside_a_request_records_the_system_channel(django_capture_on_commit_callbacks):
    officer = make_staff(PAYMENTS)
    w = _open_withdrawal(make_player(funds={"USD": 1_000}))
    with django_capture_on_commit_callbacks(execute=False):
        withdrawal_approve(withdrawal_id=w.pk, actor=officer, reason="batch", now=timezone.now())
    assert _last(w) == (officer.pk, "system", "batch")


def test_kyc_decisions_record_actor_and_channel_on_each_channel(make_api, tmp_path, settings):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    officer = make_staff(COMPLIANCE)
    first = KYCApplication.objects.create(player=make_player(), submitted_at=timezone.now())
    second = KYCApplication.objects.create(player=make_player(), submitted_at=timezone.now())
    assert verified_client(officer).post(
        f"/admin/kyc/kycapplication/{first.pk}/decide/approve/",
        {"reason": "matches"}).status_code == 302
    assert make_api(officer).post(f"{BO}/kyc/applications/{second.pk}/approve/",
                                  {"reason": "matches"}, format="json").status_code == 200
    for application, channel in ((first, "admin"), (second, "api")):
        rows = list(application.history.order_by("history_id")
                    .values_list("status", "history_user_id", "history_channel"))
        assert rows[-2:] == [(KYCStatus.IN_REVIEW, officer.pk, channel),
                             (KYCStatus.APPROVED, officer.pk, channel)]


# --- the admin refuses self-dealing too -------------------------------------------------------


def test_the_admin_refuses_to_approve_ones_own_withdrawal():
    player = make_player(funds={"USD": 1_000})
    w = _open_withdrawal(player)
    officer = promote(player, PAYMENTS)
    response = verified_client(officer).post(
        f"/admin/wallet/withdrawal/{w.pk}/transition/approve/", {"reason": "mine"}, follow=True)
    assert b"[self_approval_refused]" in response.content
    w = Withdrawal.objects.get(pk=w.pk)
    assert (w.status, w.decided_by_id) == (WithdrawalStatus.REQUESTED, None)
    assert balances(officer) == {"cash": 700, "reserved": 300, "bonus": 0}


def test_the_admin_refuses_to_decide_ones_own_kyc():
    player = make_player()
    application = KYCApplication.objects.create(player=player, submitted_at=timezone.now())
    officer = promote(player, COMPLIANCE)
    client = verified_client(officer)
    for action in ("start-review", "approve", "reject"):
        response = client.post(f"/admin/kyc/kycapplication/{application.pk}/decide/{action}/",
                               {"reason": "mine"}, follow=True)
        assert b"[self_approval_refused]" in response.content, action
    application = KYCApplication.objects.get(pk=application.pk)
    assert (application.status, application.reviewer_id) == (KYCStatus.SUBMITTED, None)
