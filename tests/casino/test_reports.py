"""A game provider's daily transaction report, imported by the reconciliation app's provider
report import ("casino:<provider>"), matched against our provider transactions."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from casino.commands import BetCommand, Caller, RollbackCommand, WinCommand
from casino.services import casino_bet, casino_rollback, casino_win, game_launch
from reconciliation.errors import InvalidReport
from reconciliation.models import Discrepancy, DiscrepancyKind, ProviderReport
from reconciliation.services import provider_report_import
from tests.factories import make_player

pytestmark = pytest.mark.django_db

HEADER = "transaction_uuid,reference_transaction_uuid,type,amount,currency,round,user,created_at\n"


def _play():
    """On our side: bet b1 1.00, win w1 2.50, bet b2 3.00 rolled back by rb2, bet b3 0.40."""
    user = make_player(funds={"USD": 10_000})
    now = timezone.now()
    token = game_launch(player=user, provider="hub88", game="slot", currency="USD", now=now).token
    caller = Caller(provider="hub88", token=token)

    def bet(txid, rnd, amount):
        casino_bet(cmd=BetCommand(caller=caller, transaction_id=txid, round_id=rnd, game="slot",
                                  currency="USD", amount=amount), now=now)

    bet("b1", "r1", 100)
    casino_win(cmd=WinCommand(caller=caller, transaction_id="w1", round_id="r1", game="slot",
                              currency="USD", amount=250, reference_transaction_id="b1"), now=now)
    bet("b2", "r2", 300)
    casino_rollback(cmd=RollbackCommand(caller=caller, transaction_id="rb2",
                                        reference_transaction_id="b2", round_id="r2"), now=now)
    bet("b3", "r3", 40)
    return now


def _line(txid, kind, wire_amount, ref="", day="2026-12-03T10:00:00Z"):
    return f"{txid},{ref},{kind},{wire_amount},USD,r,u,{day}\n"


def test_a_matching_hub88_report_finds_nothing_and_each_mismatch_is_reported():
    _play()
    start, end = timezone.now().replace(hour=0, minute=0), timezone.now().replace(hour=23, minute=59)
    matching = (HEADER + _line("b1", "bet", 100_000) + _line("w1", "win", 250_000, "b1")
                + _line("b2", "bet", 300_000) + _line("rb2", "rollback", 300_000, "b2")
                + _line("b3", "bet", 40_000))
    clean = provider_report_import(provider="casino:hub88", raw=matching.encode(),
                                   period_start=start, period_end=end, now=timezone.now())
    assert clean.findings == 0

    # Theirs says w1 paid 2.60, has a bet we never saw, and lacks b3.
    mismatched = (HEADER + _line("b1", "bet", 100_000) + _line("w1", "win", 260_000, "b1")
                  + _line("b2", "bet", 300_000) + _line("rb2", "rollback", 300_000, "b2")
                  + _line("b9", "bet", 500_000))
    result = provider_report_import(provider="casino:hub88", raw=mismatched.encode(),
                                    period_start=start, period_end=end, now=timezone.now())
    assert result.by_kind == {DiscrepancyKind.PROVIDER_AMOUNT_MISMATCH: 1,
                              DiscrepancyKind.PROVIDER_MISSING_OURS: 1,
                              DiscrepancyKind.PROVIDER_MISSING_THEIRS: 1}
    amount = Discrepancy.objects.get(kind=DiscrepancyKind.PROVIDER_AMOUNT_MISMATCH)
    assert (amount.expected, amount.actual) == (260, 250)
    assert Discrepancy.objects.get(kind=DiscrepancyKind.PROVIDER_MISSING_THEIRS).actual == 40


@pytest.mark.parametrize("body, fragment", [
    (HEADER + _line("b1", "deposit", 100_000), "type must be"),
    (HEADER + _line("b1", "bet", "1.00"), "integer"),
    (HEADER + _line("b1", "bet", 100_001), "precision"),
    ("transaction_uuid,amount\nb1,1\n", "Missing columns"),
])
def test_an_invalid_casino_report_is_refused_and_writes_nothing(body, fragment):
    with pytest.raises(InvalidReport) as refused:
        provider_report_import(provider="casino:hub88", raw=body.encode(), now=timezone.now())
    assert fragment in refused.value.detail
    assert Discrepancy.objects.count() == 0


def test_unknown_casino_provider_is_refused():
    with pytest.raises(InvalidReport) as refused:
        provider_report_import(provider="casino:nope", raw=b"x", now=timezone.now())
    assert refused.value.code == "unknown_provider"


def test_import_command_takes_a_casino_report(tmp_path, capsys):
    _play()
    path = tmp_path / "hub88-2026-12-03.csv"
    path.write_text(HEADER + _line("b1", "bet", 100_000))
    call_command("import_provider_report", str(path), "--provider", "casino:hub88")
    out = capsys.readouterr().out
    assert "1 lines" in out


def test_admin_upload_offers_casino_providers(client, staff_factory, settings):
    settings.BACKOFFICE_REQUIRE_OTP = False  # the OTP login has its own tests
    _play()
    client.force_login(staff_factory("payments"))
    raw = (HEADER + _line("b1", "bet", 100_000)).encode()
    response = client.post("/admin/reconciliation/providerreport/upload/", {
        "provider": "casino:hub88", "file": SimpleUploadedFile("hub88.csv", raw, "text/csv")})
    assert response.status_code == 302, response.content[:500]
    assert ProviderReport.objects.get().provider == "casino:hub88"
