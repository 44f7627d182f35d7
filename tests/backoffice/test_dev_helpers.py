"""Development helpers (common.devtools): complete a sandbox deposit without signing a
webhook (command and admin button), print a staff member's TOTP code, the seed's address.
All refused when settings.DEV_TOOLS_ENABLED is off (production)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_otp.oath import totp

from tests.backoffice.conftest import totp_device
from tests.factories import balances, make_player, make_staff
from wallet.models import Deposit, DepositStatus, ProviderCallback
from wallet.services import deposit_create

pytestmark = pytest.mark.django_db


def _pending_deposit(player, amount=2_500):
    return deposit_create(player=player, amount=amount, currency="USD", provider="sandbox",
                          now=timezone.now())


def test_sandbox_complete_credits_a_pending_deposit_like_the_signed_webhook():
    player = make_player()
    deposit = _pending_deposit(player)
    out = io.StringIO()
    call_command("sandbox_complete", str(deposit.pk), stdout=out)
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.SUCCEEDED
    assert balances(player)["cash"] == 2_500
    callback = ProviderCallback.objects.get(reference=str(deposit.pk))
    assert callback.provider == "sandbox" and callback.event == "deposit.succeeded"
    assert "succeeded" in out.getvalue()
    # Running it again is a duplicate callback: nothing more is credited.
    call_command("sandbox_complete", str(deposit.pk), stdout=io.StringIO())
    assert balances(player)["cash"] == 2_500


def test_sandbox_complete_can_fail_a_deposit():
    player = make_player()
    deposit = _pending_deposit(player)
    call_command("sandbox_complete", str(deposit.pk), "--fail", stdout=io.StringIO())
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.FAILED and balances(player)["cash"] == 0


def test_dev_helpers_are_refused_outside_dev_and_test(settings, staff_client):
    settings.DEV_TOOLS_ENABLED = False  # what production settings say
    player = make_player()
    deposit = _pending_deposit(player)
    with pytest.raises(CommandError, match="dev_tools_disabled"):
        call_command("sandbox_complete", str(deposit.pk), stdout=io.StringIO())
    staff = make_staff("payments")
    totp_device(staff)
    with pytest.raises(CommandError, match="dev_tools_disabled"):
        call_command("totp_code", staff.username, stdout=io.StringIO())
    # No sandbox button on the deposit page, and pressing it by URL changes nothing.
    _, client = staff_client("payments")
    page = client.get(f"/admin/wallet/deposit/{deposit.pk}/change/")
    assert page.status_code == 200 and b"Sandbox: provider confirms" not in page.content
    client.post(f"/admin/wallet/deposit/{deposit.pk}/transition/sandbox-succeed/")
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.PENDING and balances(player)["cash"] == 0
    assert not ProviderCallback.objects.exists()


def test_the_admin_sandbox_button_completes_a_deposit(staff_client):
    player = make_player()
    deposit = _pending_deposit(player, amount=700)
    _, client = staff_client("payments")
    page = client.get(f"/admin/wallet/deposit/{deposit.pk}/change/")
    assert b"Sandbox: provider confirms" in page.content
    response = client.post(f"/admin/wallet/deposit/{deposit.pk}/transition/sandbox-succeed/",
                           follow=True)
    assert b"The sandbox provider confirmed it." in response.content
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.SUCCEEDED
    assert balances(player)["cash"] == 700


def test_totp_code_prints_the_code_the_login_accepts():
    staff = make_staff("support_agent")
    device = totp_device(staff)
    out = io.StringIO()
    call_command("totp_code", staff.username, stdout=out)
    code = out.getvalue().strip()
    expected = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    assert len(code) == 6 and int(code) == expected  # same 30 s window
    assert device.verify_token(code)


def test_seed_prints_the_host_and_port_it_is_served_on(monkeypatch):
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "18471")
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "http://0.0.0.0:18471/play/" in out.getvalue()
    assert "http://0.0.0.0:18471/admin/" in out.getvalue()
    assert "8000" not in out.getvalue()
