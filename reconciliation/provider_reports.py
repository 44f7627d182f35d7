"""Provider settlement reports: parse a CSV, then match it against our deposits and
withdrawals (payment providers) or our casino provider transactions (game providers, see
the casino section below) by provider transaction id and amount, in one SQL statement.

CSV columns (header required, any order, extra columns ignored):
    provider_transaction_id, type (deposit|withdrawal), amount (decimal string, e.g. "12.50"),
    currency, status (succeeded|paid|completed|settled -> ok; failed|declined|rejected ->
    failed), occurred_at (ISO 8601 with a timezone)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from rest_framework.exceptions import ValidationError as DRFValidationError

from casino.adapters.hub88 import to_minor
from casino.errors import InvalidPayload
from casino.models import OUTCOME_OK, ProviderTransaction, TxStatus
from common.money import currency_get, parse_amount
from common.numbers import ascii_int
from wallet.models import Deposit, DepositStatus, Withdrawal, WithdrawalStatus

from .checks import Finding, sql_in, sql_table
from .errors import InvalidReport
from .models import DiscrepancyKind as K
from .models import ProviderReportLine

REQUIRED_COLUMNS = ("provider_transaction_id", "type", "amount", "currency", "status", "occurred_at")
OK_STATUSES = {"succeeded", "success", "paid", "completed", "settled", "ok"}
FAILED_STATUSES = {"failed", "declined", "rejected", "failure"}
MAX_LINES = 500_000


@dataclass(frozen=True)
class ReportLine:
    provider_transaction_id: str
    kind: str
    amount: int
    currency: str
    status: str
    occurred_at: datetime


def parse_report(raw: bytes) -> list[ReportLine]:
    """Parse and validate a whole report. Raises InvalidReport naming the first bad line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidReport("The report is not UTF-8 text.")
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip() for c in (reader.fieldnames or [])}
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidReport(f"Missing columns: {', '.join(missing)}.", extra={"missing": missing})
    lines: list[ReportLine] = []
    seen: set[str] = set()
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            lines.append(_parse_line(row))
        except (ValueError, ValidationError, DRFValidationError) as exc:
            message = _message(exc)
            raise InvalidReport(f"Line {number}: {message}", extra={"line": number})
        if lines[-1].provider_transaction_id in seen:
            raise InvalidReport(f"Line {number}: provider_transaction_id repeated.",
                                extra={"line": number})
        seen.add(lines[-1].provider_transaction_id)
        if len(lines) > MAX_LINES:
            raise InvalidReport(f"More than {MAX_LINES} lines.")
    if not lines:
        raise InvalidReport("The report has no lines.")
    return lines


def _message(exc: Exception) -> str:
    if isinstance(exc, DRFValidationError):
        detail: Any = exc.detail
        while isinstance(detail, dict | list) and detail:
            detail = next(iter(detail.values())) if isinstance(detail, dict) else detail[0]
        return str(detail)
    if isinstance(exc, ValidationError):
        return exc.messages[0]
    return str(exc)


def _parse_line(row: dict) -> ReportLine:
    ptx = row["provider_transaction_id"]
    if not ptx or len(ptx) > 200:
        raise ValueError("provider_transaction_id is empty or too long.")
    kind = row["type"].lower()
    if kind not in ("deposit", "withdrawal"):
        raise ValueError("type must be deposit or withdrawal.")
    amount = parse_amount(row["amount"], row["currency"])
    status = row["status"].lower()
    if status in OK_STATUSES:
        status = "ok"
    elif status in FAILED_STATUSES:
        status = "failed"
    else:
        raise ValueError(f"unknown status {row['status']!r}.")
    occurred = datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00"))
    if occurred.tzinfo is None:
        raise ValueError("occurred_at needs a timezone.")
    return ReportLine(ptx, kind, amount, row["currency"], status, occurred)


# Our side: deposits and withdrawals of the provider that it has answered (they carry its
# transaction id), with our status normalized the way the report's is.
_MATCH_SQL = f"""
WITH theirs AS (
    SELECT provider_transaction_id AS ptx, kind, amount, currency, status
      FROM {sql_table(ProviderReportLine)} WHERE report_id = %(report)s
),
ours AS (
    SELECT provider_transaction_id AS ptx, 'deposit' AS kind, amount, currency,
           CASE WHEN status IN {sql_in(DepositStatus.SUCCEEDED)} THEN 'ok'
                WHEN status IN {sql_in(DepositStatus.FAILED)} THEN 'failed' ELSE status END AS status,
           'deposit:' || id AS ref, player_id, updated_at
      FROM {sql_table(Deposit)} WHERE provider = %(provider)s AND provider_transaction_id <> ''
    UNION ALL
    SELECT provider_transaction_id, 'withdrawal', amount, currency,
           CASE WHEN status IN {sql_in(WithdrawalStatus.PAID)} THEN 'ok'
                WHEN status IN {sql_in(WithdrawalStatus.FAILED)} THEN 'failed' ELSE status END,
           'withdrawal:' || id, player_id, updated_at
      FROM {sql_table(Withdrawal)} WHERE provider = %(provider)s AND provider_transaction_id <> ''
)
SELECT t.ptx, t.kind, t.amount, t.currency, t.status,
       o.ptx, o.kind, o.amount, o.currency, o.status, o.ref, o.player_id
  FROM theirs t FULL JOIN ours o ON o.ptx = t.ptx
 WHERE (t.ptx IS NULL AND o.updated_at >= %(start)s AND o.updated_at <= %(end)s)
    OR o.ptx IS NULL
    OR (t.ptx IS NOT NULL AND o.ptx IS NOT NULL
        AND (t.amount <> o.amount OR t.currency <> o.currency
             OR t.status <> o.status OR t.kind <> o.kind))
"""


def match_report(*, report) -> list[Finding]:
    """Findings of one imported report: missing on our side, missing on theirs, amount or
    status mismatch."""
    p = report.provider
    with connection.cursor() as cur:
        cur.execute(_MATCH_SQL, {"report": report.pk, "provider": p,
                                 "start": report.period_start, "end": report.period_end})
        rows = cur.fetchall()
    out: list[Finding] = []
    for (t_ptx, t_kind, t_amount, t_ccy, t_status,
         o_ptx, o_kind, o_amount, o_ccy, o_status, ref, player) in rows:
        base = {"report_id": report.pk, "provider": p}
        if o_ptx is None:
            out.append(Finding(K.PROVIDER_MISSING_OURS, f"provider:{p}:{t_ptx}:missing_ours",
                               f"{p} {t_kind} {t_ptx}", t_ccy, None, expected=t_amount,
                               detail={**base, "their_status": t_status}))
        elif t_ptx is None:
            out.append(Finding(K.PROVIDER_MISSING_THEIRS, f"provider:{p}:{o_ptx}:missing_theirs",
                               f"{p} {o_kind} {o_ptx} ({ref})", o_ccy, player, actual=o_amount,
                               detail={**base, "reference": ref, "our_status": o_status}))
        elif t_amount != o_amount or t_ccy != o_ccy:
            out.append(Finding(K.PROVIDER_AMOUNT_MISMATCH, f"provider:{p}:{t_ptx}:amount",
                               f"{p} {t_kind} {t_ptx} ({ref})", o_ccy, player, expected=t_amount,
                               actual=o_amount, detail={**base, "reference": ref,
                                                        "their_currency": t_ccy}))
        else:
            out.append(Finding(K.PROVIDER_STATUS_MISMATCH, f"provider:{p}:{t_ptx}:status",
                               f"{p} {t_kind} {t_ptx} ({ref})", o_ccy, player,
                               detail={**base, "reference": ref, "their_status": t_status,
                                       "our_status": o_status, "their_kind": t_kind,
                                       "our_kind": o_kind}))
    return out


# --- casino providers' daily transaction reports (seamless wallet) -----------------------------
#
# A game provider's (or aggregator's) daily list of the wallet transactions it sent us.
# Imported with provider "casino:<name>" (e.g. casino:hub88). CSV columns (header required,
# any order, extra columns ignored):
#     transaction_uuid, type (bet|win|rollback), amount, currency, created_at (ISO 8601 with a
#     timezone); optional reference_transaction_uuid, round, user.
# `amount` is in the provider's wire units: an integer with the adapter's decimals for
# integer contracts (hub88: 5, so 100000 = 1.00), a decimal string otherwise (sandbox). A
# rollback's amount is the stake it returned.

CASINO_PREFIX = "casino:"
CASINO_REQUIRED_COLUMNS = ("transaction_uuid", "type", "amount", "currency", "created_at")
CASINO_KINDS = ("bet", "win", "rollback")


def casino_provider(provider: str) -> str | None:
    """The casino provider named by a report's provider ("casino:hub88" -> "hub88")."""
    return provider[len(CASINO_PREFIX):] if provider.startswith(CASINO_PREFIX) else None


def parse_casino_report(raw: bytes, *, wire_decimals: int | None) -> list[ReportLine]:
    """Parse a casino transaction report. Raises InvalidReport naming the first bad line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidReport("The report is not UTF-8 text.")
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip() for c in (reader.fieldnames or [])}
    missing = [c for c in CASINO_REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidReport(f"Missing columns: {', '.join(missing)}.", extra={"missing": missing})
    lines: list[ReportLine] = []
    seen: set[str] = set()
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            line = _parse_casino_line(row, wire_decimals)
        except (ValueError, ValidationError, DRFValidationError, InvalidPayload) as exc:
            raise InvalidReport(f"Line {number}: {_message(exc)}", extra={"line": number})
        if line.provider_transaction_id in seen:
            raise InvalidReport(f"Line {number}: transaction_uuid repeated.", extra={"line": number})
        seen.add(line.provider_transaction_id)
        lines.append(line)
        if len(lines) > MAX_LINES:
            raise InvalidReport(f"More than {MAX_LINES} lines.")
    if not lines:
        raise InvalidReport("The report has no lines.")
    return lines


def _parse_casino_line(row: dict, wire_decimals: int | None) -> ReportLine:
    ptx = row["transaction_uuid"]
    if not ptx or len(ptx) > 200:
        raise ValueError("transaction_uuid is empty or too long.")
    kind = row["type"].lower()
    if kind not in CASINO_KINDS:
        raise ValueError(f"type must be one of {', '.join(CASINO_KINDS)}.")
    currency = row["currency"]
    currency_get(currency)
    if wire_decimals is None:
        amount = parse_amount(row["amount"], currency, allow_zero=True)
    else:
        wire = ascii_int(row["amount"])
        if wire is None:
            raise ValueError("amount must be a non-negative integer of at most 18 digits.")
        amount = to_minor(wire, currency, wire_decimals)
    occurred = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
    if occurred.tzinfo is None:
        raise ValueError("created_at needs a timezone.")
    return ReportLine(ptx, kind, amount, currency, "ok", occurred)


# Our side: the provider's transactions we answered with success (tombstones are markers,
# not transactions; a refused call left no row).
_CASINO_MATCH_SQL = f"""
WITH theirs AS (
    SELECT provider_transaction_id AS ptx, kind, amount, currency
      FROM {sql_table(ProviderReportLine)} WHERE report_id = %(report)s
),
ours AS (
    SELECT transaction_id AS ptx, kind, amount, currency, 'casino_tx:' || id AS ref, player_id,
           created_at
      FROM {sql_table(ProviderTransaction)}
     WHERE provider = %(provider)s AND status NOT IN {sql_in(TxStatus.TOMBSTONE)}
       AND outcome_code = '{OUTCOME_OK}'
)
SELECT t.ptx, t.kind, t.amount, t.currency, o.ptx, o.kind, o.amount, o.currency, o.ref,
       o.player_id
  FROM theirs t FULL JOIN ours o ON o.ptx = t.ptx
 WHERE (t.ptx IS NULL AND o.created_at >= %(start)s AND o.created_at <= %(end)s)
    OR o.ptx IS NULL
    OR (t.ptx IS NOT NULL AND o.ptx IS NOT NULL
        AND (t.amount <> o.amount OR t.currency <> o.currency OR t.kind <> o.kind))
"""


def match_casino_report(*, report) -> list[Finding]:
    """Findings of one imported casino report: missing on our side, missing on theirs,
    amount, currency or type mismatch."""
    p = report.provider
    with connection.cursor() as cur:
        cur.execute(_CASINO_MATCH_SQL, {"report": report.pk, "provider": casino_provider(p),
                                        "start": report.period_start, "end": report.period_end})
        rows = cur.fetchall()
    out: list[Finding] = []
    for t_ptx, t_kind, t_amount, t_ccy, o_ptx, o_kind, o_amount, o_ccy, ref, player in rows:
        base = {"report_id": report.pk, "provider": p}
        if o_ptx is None:
            out.append(Finding(K.PROVIDER_MISSING_OURS, f"provider:{p}:{t_ptx}:missing_ours",
                               f"{p} {t_kind} {t_ptx}", t_ccy, None, expected=t_amount,
                               detail=base))
        elif t_ptx is None:
            out.append(Finding(K.PROVIDER_MISSING_THEIRS, f"provider:{p}:{o_ptx}:missing_theirs",
                               f"{p} {o_kind} {o_ptx} ({ref})", o_ccy, player, actual=o_amount,
                               detail={**base, "reference": ref}))
        elif t_kind != o_kind:
            out.append(Finding(K.PROVIDER_STATUS_MISMATCH, f"provider:{p}:{t_ptx}:status",
                               f"{p} {t_kind} {t_ptx} ({ref})", o_ccy, player,
                               detail={**base, "reference": ref, "their_kind": t_kind,
                                       "our_kind": o_kind}))
        else:
            out.append(Finding(K.PROVIDER_AMOUNT_MISMATCH, f"provider:{p}:{t_ptx}:amount",
                               f"{p} {t_kind} {t_ptx} ({ref})", o_ccy, player, expected=t_amount,
                               actual=o_amount, detail={**base, "reference": ref,
                                                        "their_currency": t_ccy}))
    return out
