"""Compliance exports: content, recorded checksum, constant memory at 100k ledger rows."""

import csv
import hashlib
import io
import json
import tracemalloc
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from backoffice.models import AuditExport
from backoffice.services import adjustment_approve, adjustment_propose
from tests.factories import make_player, make_staff
from wallet.ledger import player_accounts

pytestmark = pytest.mark.django_db


def _player_with_story():
    player = make_player(funds={"USD": 5_000})
    support = make_staff("support_agent", username=f"agent_{player.pk}")
    payments = make_staff("payments", username=f"payer_{player.pk}")
    adj = adjustment_propose(player_id=player.pk, currency="USD", amount=700,
                             reason="goodwill", actor=support, now=timezone.now())
    adjustment_approve(adjustment_id=adj.pk, actor=payments, reason="ticket 9 ok",
                       now=timezone.now())
    return player, support, payments, adj


def _download(client, **data):
    resp = client.post("/admin/audit-export/", data)
    assert resp.status_code == 200, resp.content[:500]
    digest = hashlib.sha256()
    body = io.BytesIO()
    for block in resp.streaming_content:
        digest.update(block)
        body.write(block)
    export = AuditExport.objects.get(pk=int(resp["X-Audit-Export-Id"]))
    return resp, body.getvalue(), digest.hexdigest(), export


def test_jsonl_export_has_who_when_why_and_is_recorded(staff_client):
    player, support, payments, adj = _player_with_story()
    other = make_player(funds={"USD": 99})
    officer, client = staff_client("compliance_officer")
    resp, body, digest, export = _download(client, player=player.username, format="jsonl",
                                           reason="regulator request 4411")
    assert resp["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert export.sha256 == digest and export.row_count == len(rows)
    assert export.requested_by == officer and export.completed_at is not None
    assert export.filters == {"player_id": player.pk, "since": None, "until": None}
    assert {r["player_id"] for r in rows} == {player.pk}  # nobody else's rows
    assert other.pk not in {r["player_id"] for r in rows}
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    ledger = [r for r in rows if r["type"] == "ledger_entry"]
    # funding (1 player entry) + approved adjustment (1 player entry)
    assert [(r["action"], r["amount"]) for r in ledger] == [("deposit", 5_000), ("adjustment", 700)]
    assert ledger[1]["actor"] == payments.username and "ticket 9 ok" in ledger[1]["reason"]
    assert len(ledger[1]["entry_hash"]) == 64
    decisions = [(r["actor"], r["action"], r["reason"]) for r in rows
                 if r["type"] == "staff_decision"]
    assert decisions == [
        (support.username, "created", "proposed: goodwill"),
        (payments.username, "proposed->approved", "approved: ticket 9 ok"),
    ]


def test_csv_export_of_a_period_and_the_export_is_itself_in_the_trail(staff_client):
    _player_with_story()
    officer, client = staff_client("compliance_officer")
    now = timezone.now()
    since, until = (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"), \
        (now + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    _, body, digest, first = _download(client, since=since, until=until, format="csv")
    table = list(csv.DictReader(io.StringIO(body.decode())))
    assert first.sha256 == digest and first.row_count == len(table)
    assert {"ledger_entry", "staff_decision"} <= {r["type"] for r in table}
    # System-account entries are part of a period export (every ledger transaction).
    assert any(r["player_id"] == "" and r["type"] == "ledger_entry" for r in table)
    _, body2, _, _ = _download(client, since=since, until=until, format="csv")
    exported = [r for r in csv.DictReader(io.StringIO(body2.decode()))
                if r["source"] == "backoffice.auditexport"]
    assert [(r["object_id"], r["actor"], r["entry_hash"]) for r in exported] == [
        (str(first.pk), officer.username, first.sha256)
    ]


def test_only_compliance_may_export(staff_client):
    player = make_player()
    for role in ("support_agent", "payments", "trader"):
        _, client = staff_client(role)
        resp = client.post("/admin/audit-export/", {"player": player.pk, "format": "csv"})
        assert resp.status_code == 403
    assert AuditExport.objects.count() == 0


def test_command_writes_file_and_records_checksum(tmp_path, capsys):
    player, *_ = _player_with_story()
    out = tmp_path / "trail.jsonl"
    call_command("export_audit", "--player", player.username, "--format", "jsonl",
                 "--output", str(out), "--reason", "audit 2024")
    data = out.read_bytes()
    export = AuditExport.objects.get()
    assert export.channel == "command" and export.requested_by is None
    assert export.sha256 == hashlib.sha256(data).hexdigest()
    assert export.row_count == len(data.splitlines()) == 4
    err = capsys.readouterr().err
    assert "rows" in err and export.sha256 in err  # tqdm bar and the summary


def _bulk_ledger(player, entries: int) -> None:
    """`entries` player ledger rows in entries/2 balanced transactions, by set-based SQL."""
    accts = player_accounts(player_id=player.pk, currency="USD")
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH t AS (
                INSERT INTO wallet_transaction (kind, reference, external_reference, reason, metadata)
                SELECT 'adjustment', 'bulk:' || g, '', 'bulk test row', '{}'::jsonb
                  FROM generate_series(1, %s) g
                RETURNING id)
            INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, balance_after,
                                      prev_hash, hash)
            SELECT t.id, a.account_id, 'USD', a.amount, 0, '', repeat('a', 64)
              FROM t CROSS JOIN (VALUES (%s::bigint, 1::bigint), (%s::bigint, -1::bigint))
                   AS a(account_id, amount)
            """,
            [entries // 2, accts.cash.pk, accts.reserved.pk],
        )
        # The zero-sum constraint trigger checks every transaction now: they all balance.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("SET CONSTRAINTS ALL DEFERRED")


def _measured_export(client, player) -> tuple[int, int, str, AuditExport]:
    tracemalloc.start()
    try:
        resp = client.post("/admin/audit-export/", {"player": player.pk, "format": "csv"})
        digest = hashlib.sha256()
        lines = 0
        for block in resp.streaming_content:
            digest.update(block)
            lines += block.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    export = AuditExport.objects.get(pk=int(resp["X-Audit-Export-Id"]))
    return peak, lines, digest.hexdigest(), export


def test_100k_row_export_streams_in_flat_memory(staff_client, settings):
    settings.BACKOFFICE_EXPORT_CHUNK_SIZE = 2000
    small, big = make_player(), make_player()
    _bulk_ledger(small, 10_000)
    _bulk_ledger(big, 100_000)
    _, client = staff_client("compliance_officer")

    peak_small, lines_small, _, _ = _measured_export(client, small)
    peak_big, lines_big, digest, export = _measured_export(client, big)

    assert lines_small == 10_001 and lines_big == 100_001  # header + one line per entry
    assert export.row_count == 100_000 and export.sha256 == digest
    print(f"tracemalloc peak: 10k rows {peak_small / 1e6:.2f} MB, "
          f"100k rows {peak_big / 1e6:.2f} MB")
    # Ten times the rows, about the same peak: memory does not grow with the export.
    assert peak_big < peak_small * 1.5 + 512 * 1024
    assert peak_big < 32 * 1024 * 1024
