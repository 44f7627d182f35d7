"""State changes of the reconciliation app: findings, their workflow, alerts, reports.

The relay and consumers live in events.relay, the checks in
reconciliation.checks, the matching of provider reports in reconciliation.provider_reports.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django_fsm import can_proceed

from casino.policy import provider_names as casino_provider_names
from casino.policy import provider_policy
from common.history import save_with_history
from common.money import CURRENCIES
from events.models import TaskDelivery
from wallet.models import PaymentProvider

from .checks import Finding, run_checks
from .errors import (
    DiscrepancyNotFound,
    DiscrepancyTransitionRefused,
    InvalidReport,
    ReportAlreadyImported,
    ResolutionReasonRequired,
)
from .models import Alert, Discrepancy, DiscrepancyStatus, ProviderReport, ProviderReportLine
from .provider_reports import (
    casino_provider,
    match_casino_report,
    match_report,
    parse_casino_report,
    parse_report,
)

logger = logging.getLogger(__name__)

# Serializes recorders of findings (beat job, command, report import) so that two runs
# never race to open the same finding.
FINDINGS_LOCK_KEY = 7_424_002


# --- findings --------------------------------------------------------------------------------


@dataclass
class RecordResult:
    new: list[int] = field(default_factory=list)
    seen_again: int = 0
    by_kind: Counter = field(default_factory=Counter)


def discrepancies_record(*, findings: Iterable[Finding], now: datetime) -> RecordResult:
    """Open a Discrepancy per new finding; a finding already open is only marked seen again."""
    result = RecordResult()
    with transaction.atomic(durable=True):
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [FINDINGS_LOCK_KEY])
        for f in findings:
            result.by_kind[f.kind] += 1
            updated = (Discrepancy.objects.filter(fingerprint=f.fingerprint)
                       .exclude(status=DiscrepancyStatus.RESOLVED)
                       .update(last_seen_at=now, seen_count=F("seen_count") + 1,
                               actual=f.actual, expected=f.expected, detail=f.detail))
            if updated:
                result.seen_again += 1
                continue
            d = Discrepancy(kind=f.kind, fingerprint=f.fingerprint, currency=f.currency,
                            player_id=f.player_id, subject=f.subject[:255], expected=f.expected,
                            actual=f.actual, detail=f.detail, detected_at=now, last_seen_at=now)
            save_with_history(d, reason="found by reconciliation")
            result.new.append(d.pk)
            logger.warning("discrepancy found", extra={"kind": f.kind, "subject": f.subject,
                                                       "discrepancy_id": d.pk})
    return result


def _lock_discrepancy(discrepancy_id) -> Discrepancy:
    try:
        return Discrepancy.objects.select_for_update().get(pk=discrepancy_id)
    except (Discrepancy.DoesNotExist, ValueError, TypeError):
        raise DiscrepancyNotFound()


def discrepancy_investigate(*, discrepancy_id: int, actor, reason: str = "",
                            now: datetime) -> Discrepancy:
    """Take an open discrepancy into investigation.

    Raises DiscrepancyNotFound, DiscrepancyTransitionRefused.
    """
    with transaction.atomic(durable=True):
        d = _lock_discrepancy(discrepancy_id)
        if not can_proceed(d.investigate):
            raise DiscrepancyTransitionRefused(f"A {d.status} discrepancy cannot be investigated.")
        d.investigate()
        save_with_history(d, user=actor, reason=reason or "investigating")
    return d


def discrepancy_resolve(*, discrepancy_id: int, actor, reason: str, now: datetime) -> Discrepancy:
    """Resolve a discrepancy with a reason (kept on the row and in its history).

    Raises ResolutionReasonRequired, DiscrepancyNotFound, DiscrepancyTransitionRefused.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ResolutionReasonRequired()
    with transaction.atomic(durable=True):
        d = _lock_discrepancy(discrepancy_id)
        if not can_proceed(d.resolve):
            raise DiscrepancyTransitionRefused(f"A {d.status} discrepancy cannot be resolved.")
        d.resolve(reason=reason, by=actor, now=now)
        save_with_history(d, user=actor, reason=reason)
    return d


# --- the reconciliation run ------------------------------------------------------------------


@dataclass
class ReconcileResult:
    findings: int
    new: int
    by_kind: dict[str, int]


def reconcile_run(*, now: datetime, only: list[str] | None = None,
                  progress: Callable[[str], None] | None = None) -> ReconcileResult:
    """Run every check on one snapshot and record what it found (each finding once)."""
    findings = run_checks(now=now, only=only, progress=progress)
    recorded = discrepancies_record(findings=findings, now=now)
    return ReconcileResult(len(findings), len(recorded.new), dict(recorded.by_kind))


# --- provider settlement reports ---------------------------------------------------------------


@dataclass
class ImportResult:
    report: ProviderReport
    findings: int
    new: int
    by_kind: dict[str, int]


def provider_report_import(*, provider: str, raw: bytes, filename: str = "", uploaded_by=None,
                           period_start: datetime | None = None,
                           period_end: datetime | None = None, now: datetime) -> ImportResult:
    """Store a provider settlement report and record its mismatches against our records.

    The period defaults to the first and last line's time. Raises InvalidReport (nothing
    is written), ReportAlreadyImported.
    """

    casino = casino_provider(provider)
    if casino is not None:
        # A game provider's daily transaction report (reconciliation.provider_reports).
        if casino not in casino_provider_names():
            raise InvalidReport(f"Unknown provider {provider!r}.", code="unknown_provider")
        lines = parse_casino_report(raw, wire_decimals=provider_policy(casino).wire_decimals)
    elif provider not in PaymentProvider.values:
        raise InvalidReport(f"Unknown provider {provider!r}.", code="unknown_provider")
    else:
        lines = parse_report(raw)
    unknown = sorted({ln.currency for ln in lines} - set(CURRENCIES))
    if unknown:
        raise InvalidReport(f"Unknown currencies: {', '.join(unknown)}.")
    start = period_start or min(ln.occurred_at for ln in lines)
    end = period_end or max(ln.occurred_at for ln in lines)
    if end < start:
        raise InvalidReport("The period ends before it starts.")
    digest = hashlib.sha256(raw).hexdigest()
    with transaction.atomic(durable=True):
        if ProviderReport.objects.filter(content_sha256=digest).exists():
            raise ReportAlreadyImported()
        report = ProviderReport.objects.create(
            provider=provider, filename=filename[:255], content_sha256=digest,
            period_start=start, period_end=end, line_count=len(lines), uploaded_by=uploaded_by)
        ProviderReportLine.objects.bulk_create(
            [ProviderReportLine(report=report, provider_transaction_id=ln.provider_transaction_id,
                                kind=ln.kind, amount=ln.amount, currency=ln.currency,
                                status=ln.status, occurred_at=ln.occurred_at) for ln in lines],
            batch_size=5000)
    findings = (match_casino_report(report=report) if casino is not None
                else match_report(report=report))
    recorded = discrepancies_record(findings=findings, now=now)
    ProviderReport.objects.filter(pk=report.pk).update(findings=len(findings))
    report.findings = len(findings)
    return ImportResult(report, len(findings), len(recorded.new), dict(recorded.by_kind))


# --- alerts --------------------------------------------------------------------------------------


def alert_raise(*, name: str, detail: str, now: datetime, value: float | None = None,
                threshold: float | None = None, severity: str = "warning") -> bool:
    """Record an open alert (or refresh the open one). Returns True when newly raised."""
    with transaction.atomic(durable=True), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO reconciliation_alert AS a (name, severity, detail, value, threshold, "
            " raised_at, last_seen_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (name) WHERE cleared_at IS NULL DO UPDATE SET detail = EXCLUDED.detail, "
            " value = EXCLUDED.value, last_seen_at = EXCLUDED.last_seen_at "
            "RETURNING (xmax = 0)",
            [name, severity, detail, value, threshold, now, now])
        new = bool(cur.fetchone()[0])
    if new:
        logger.warning("alert raised: %s", detail, extra={"alert": name, "value": value,
                                                          "threshold": threshold})
    return new


def task_parked_alert(*, task_id: str, task_name: str, args: list, deliveries: int,
                      now: datetime) -> bool:
    """Raise the critical alert of a parked task (settings.EVENTS_TASK_PARKED_ALERT)."""
    return alert_raise(name=f"task_parked:{task_id}", severity="critical", value=deliveries,
                       threshold=settings.CELERY_TASK_MAX_REDELIVERIES,
                       detail=f"{task_name}{tuple(args)} parked after {deliveries} deliveries",
                       now=now)


def alert_clear(*, name: str, now: datetime) -> bool:
    """Clear the open alert of a monitor that recovered. Returns True when one was open."""
    cleared = Alert.objects.filter(name=name, cleared_at__isnull=True).update(cleared_at=now)
    if cleared:
        logger.info("alert cleared", extra={"alert": name})
    return bool(cleared)


def housekeeping(*, now: datetime, keep_days: int = 7) -> int:
    """Forget delivery counters of tasks that finished long ago (their messages are gone)."""
    deleted, _ = TaskDelivery.objects.filter(
        first_delivered_at__lt=now - timedelta(days=keep_days)).delete()
    return deleted
