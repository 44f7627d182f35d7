"""Provider settlement reports: every mismatch found once, rightly classified; bad files
write nothing."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from reconciliation.errors import InvalidReport, ReportAlreadyImported
from reconciliation.models import Discrepancy, DiscrepancyKind, ProviderReport, ProviderReportLine
from reconciliation.services import provider_report_import
from tests.factories import make_player

from .helpers import deposit

pytestmark = pytest.mark.django_db

HEADER = "provider_transaction_id,type,amount,currency,status,occurred_at\n"


def _line(ptx, amount, kind="deposit", status="succeeded", currency="USD"):
    return f"{ptx},{kind},{amount},{currency},{status},{timezone.now().isoformat()}\n"


def _setup():
    alice = make_player()
    deposit(alice, 1_000, ptx="P-OK")
    deposit(alice, 2_000, ptx="P-AMOUNT")
    deposit(alice, 3_000, ptx="P-THEIRS-MISSING")
    now = timezone.now()
    report = (HEADER + _line("P-OK", "10.00") + _line("P-AMOUNT", "25.00")
              + _line("P-NEVER-SEEN", "7.00")).encode()
    return alice, report, now


def _import(raw, now, **kw):
    return provider_report_import(provider="sandbox", raw=raw, filename="r.csv",
                                  period_start=now - timedelta(hours=1),
                                  period_end=now + timedelta(hours=1), now=now, **kw)


def test_each_mismatch_is_reported_once_with_its_classification():
    alice, raw, now = _setup()

    result = _import(raw, now)

    assert (result.findings, result.new) == (3, 3)
    found = {d.kind: d for d in Discrepancy.objects.all()}
    assert set(found) == {DiscrepancyKind.PROVIDER_AMOUNT_MISMATCH,
                          DiscrepancyKind.PROVIDER_MISSING_OURS,
                          DiscrepancyKind.PROVIDER_MISSING_THEIRS}
    amount = found[DiscrepancyKind.PROVIDER_AMOUNT_MISMATCH]
    assert (amount.expected, amount.actual, amount.player_id) == (2_500, 2_000, alice.pk)
    assert "P-NEVER-SEEN" in found[DiscrepancyKind.PROVIDER_MISSING_OURS].subject
    assert "P-THEIRS-MISSING" in found[DiscrepancyKind.PROVIDER_MISSING_THEIRS].subject

    # The same file again is refused; a new report with the same lines reports nothing new.
    with pytest.raises(ReportAlreadyImported):
        _import(raw, now)
    again = _import(raw + b"\n", now)  # a different file with the same lines
    assert (again.findings, again.new) == (3, 0)
    assert Discrepancy.objects.count() == 3


def test_status_mismatch_is_its_own_kind():
    alice = make_player()
    deposit(alice, 1_000, ptx="P-1")
    now = timezone.now()

    result = _import((HEADER + _line("P-1", "10.00", status="failed")).encode(), now)

    assert result.by_kind == {DiscrepancyKind.PROVIDER_STATUS_MISMATCH: 1}


@pytest.mark.parametrize("body, code_fragment", [
    (HEADER + "P-1,deposit,10.001,USD,succeeded,2026-01-01T00:00:00Z\n", "Line 2"),
    (HEADER + "P-1,deposit,1e3,USD,succeeded,2026-01-01T00:00:00Z\n", "Line 2"),
    (HEADER + "P-1,refund,10.00,USD,succeeded,2026-01-01T00:00:00Z\n", "type"),
    (HEADER + "P-1,deposit,10.00,XXX,succeeded,2026-01-01T00:00:00Z\n", "Line 2"),
    (HEADER + "P-1,deposit,10.00,USD,maybe,2026-01-01T00:00:00Z\n", "status"),
    (HEADER + "P-1,deposit,10.00,USD,ok,2026-01-01T00:00:00\n", "timezone"),
    (HEADER + "P-1,deposit,10.00,USD,ok,2026-01-01T00:00:00Z\n"
     "P-1,deposit,10.00,USD,ok,2026-01-01T00:00:00Z\n", "repeated"),
    ("provider_transaction_id,amount\nP-1,10.00\n", "Missing columns"),
    (HEADER, "no lines"),
])
def test_an_invalid_report_is_refused_and_writes_nothing(body, code_fragment):
    with pytest.raises(InvalidReport) as exc:
        provider_report_import(provider="sandbox", raw=body.encode(), now=timezone.now())

    assert exc.value.code == "invalid_report" and code_fragment in exc.value.detail
    assert (ProviderReport.objects.count(), ProviderReportLine.objects.count(),
            Discrepancy.objects.count()) == (0, 0, 0)


def test_import_command(tmp_path, capsys):
    _, raw, now = _setup()
    path = tmp_path / "report.csv"
    path.write_bytes(raw)

    call_command("import_provider_report", str(path), "--provider", "sandbox",
                 "--period-start", (now - timedelta(hours=1)).isoformat(),
                 "--period-end", (now + timedelta(hours=1)).isoformat())

    assert "3 findings, 3 new" in capsys.readouterr().out
    with pytest.raises(CommandError, match="report_already_imported"):
        call_command("import_provider_report", str(path))


def test_admin_upload_by_payments_staff(client, staff_factory, settings):
    settings.BACKOFFICE_REQUIRE_OTP = False  # the OTP login has its own tests
    _, raw, now = _setup()
    payments = staff_factory("payments")
    support = staff_factory("support_agent")
    url = "/admin/reconciliation/providerreport/upload/"

    client.force_login(support)
    refused = client.post(url, {"provider": "sandbox",
                                "file": SimpleUploadedFile("r.csv", raw, "text/csv")})
    assert refused.status_code == 403 and ProviderReport.objects.count() == 0

    client.force_login(payments)
    day = now.date().isoformat()
    response = client.post(url, {"provider": "sandbox", "period_start": day, "period_end": day,
                                 "file": SimpleUploadedFile("r.csv", raw, "text/csv")})
    assert response.status_code == 302, response.content[:500]
    assert ProviderReport.objects.get().uploaded_by == payments
    assert Discrepancy.objects.count() == 3
