"""The audit trail as one chronological stream: ledger entries, state changes (every
django-simple-history record) and staff decisions, with who, when and why.

Rows come from server-side cursors (`QuerySet.iterator(chunk_size=...)`), one per source,
merged by time with heapq.merge, so memory stays flat whatever the export's size. The
whole export reads one REPEATABLE READ snapshot, so its checksum describes a consistent
state of the books. It reads the replica when one keeps up (`config.db_router`): a
report must not slow the money on the primary.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.apps import apps
from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django_fsm import FSMField
from simple_history.exceptions import NotHistoricalModelError
from simple_history.utils import get_history_model_for_model

from wallet.models import Entry

from .models import AuditExport
from .services import audit_export_finish

COLUMNS = [
    "at", "type", "source", "object_id", "player_id", "actor_id", "actor", "action",
    "status_from", "status_to", "amount", "currency", "account", "balance_after",
    "transaction_id", "reference", "reason", "entry_hash",
]

PLAYER_FIELDS = ("player", "owner", "user")
FLUSH_BYTES = 64 * 1024


@dataclass(frozen=True)
class AuditFilters:
    player_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict:
        return {
            "player_id": self.player_id,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


def _period(qs, field: str, filters: AuditFilters):
    if filters.since:
        qs = qs.filter(**{f"{field}__gte": filters.since})
    if filters.until:
        qs = qs.filter(**{f"{field}__lt": filters.until})
    return qs


def _ledger_rows(filters: AuditFilters, chunk_size: int, db: str) -> Iterator[tuple]:
    qs = Entry.objects.using(db)
    if filters.player_id is not None:
        qs = qs.filter(account__owner_id=filters.player_id)
    qs = _period(qs, "created_at", filters).order_by("created_at", "id").values_list(
        "created_at", "id", "transaction_id", "transaction__kind", "account__owner_id",
        "transaction__created_by_id", "transaction__created_by__username", "amount", "currency",
        "account__kind", "balance_after", "transaction__reference", "transaction__reason", "hash",
    )
    for (at, pk, txn, kind, owner, actor_id, actor, amount, currency, account, bal, ref,
         reason, digest) in qs.iterator(chunk_size=chunk_size):
        yield (at, 0, pk, {
            "at": at, "type": "ledger_entry", "source": "wallet.entry", "object_id": pk,
            "player_id": owner, "actor_id": actor_id, "actor": actor, "action": kind,
            "amount": amount, "currency": currency, "account": account, "balance_after": bal,
            "transaction_id": txn, "reference": ref, "reason": reason, "entry_hash": digest,
        })


def historical_sources() -> list[tuple[type, type, str | None, str | None]]:
    """(model, history model, player field, status field) for every history-tracked model."""
    found = []
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    for model in apps.get_models():
        try:
            history = get_history_model_for_model(model)
        except NotHistoricalModelError:
            continue
        player_field = None  # attname of the column holding the player's id
        for field in model._meta.concrete_fields:
            if field.name in PLAYER_FIELDS and field.is_relation \
                    and field.related_model is user_model:
                player_field = field.attname
                break
            if field.attname == "player_id" and not field.is_relation:
                player_field = "player_id"  # a plain id column (e.g. reconciliation findings)
                break
        status_field = next(
            (f.name for f in model._meta.fields if isinstance(f, FSMField)),
            "status" if any(f.name == "status" for f in model._meta.fields) else None,
        )
        found.append((model, history, player_field, status_field))
    return sorted(found, key=lambda s: s[0]._meta.label)


def _history_rows(source_index: int, model, history, player_field, status_field,
                  filters: AuditFilters, chunk_size: int, db: str) -> Iterator[tuple]:
    qs = history.objects.using(db)
    if filters.player_id is not None:
        if player_field is None:
            return
        qs = qs.filter(**{player_field: filters.player_id})
    qs = _period(qs, "history_date", filters)
    names = {f.name for f in model._meta.fields}
    pk = model._meta.pk.attname  # e.g. "player_id" for a one-row-per-player model
    fields = ["history_date", "history_id", pk, "history_type", "history_user_id",
              "history_user__username", "history_user__is_staff", "history_change_reason"]
    if status_field:
        previous = (
            history.objects.using(db)
            .filter(**{pk: OuterRef(pk)}, history_date__lt=OuterRef("history_date"))
            .order_by("-history_date", "-history_id")
            .values(status_field)[:1]
        )
        qs = qs.annotate(_status_to=F(status_field), _status_from=Subquery(previous))
        fields += ["_status_from", "_status_to"]
    extra = [n for n in ("amount", "currency", "reason") if n in names]
    if player_field and player_field != pk:
        extra.append(player_field)
    qs = qs.order_by("history_date", "history_id").values(*fields, *extra)
    label = model._meta.label_lower
    for rec in qs.iterator(chunk_size=chunk_size):
        action = {"+": "created", "~": "changed", "-": "deleted"}[rec["history_type"]]
        status_to = rec.get("_status_to")
        if status_field and rec.get("_status_from") not in (None, status_to):
            action = f"{rec['_status_from']}->{status_to}"
        yield (rec["history_date"], 1 + source_index, rec["history_id"], {
            "at": rec["history_date"],
            "type": "staff_decision" if rec["history_user__is_staff"] else "state_change",
            "source": label, "object_id": rec[pk],
            "player_id": rec.get(player_field) if player_field else None,
            "actor_id": rec["history_user_id"], "actor": rec["history_user__username"],
            "action": action, "status_from": rec.get("_status_from"), "status_to": status_to,
            "amount": rec.get("amount"), "currency": rec.get("currency"),
            "reason": rec["history_change_reason"] or rec.get("reason") or "",
        })


def _export_rows(filters: AuditFilters, chunk_size: int, source_index: int,
                 db: str) -> Iterator[tuple]:
    """Earlier exports are part of the trail: who looked at what."""
    qs = AuditExport.objects.using(db).filter(completed_at__isnull=False)
    if filters.player_id is not None:
        qs = qs.filter(filters__player_id=filters.player_id)
    qs = _period(qs, "started_at", filters).order_by("started_at", "id").values(
        "started_at", "id", "requested_by_id", "requested_by__username", "format", "filters",
        "row_count", "sha256", "reason",
    )
    for rec in qs.iterator(chunk_size=chunk_size):
        yield (rec["started_at"], source_index, rec["id"], {
            "at": rec["started_at"], "type": "staff_decision", "source": "backoffice.auditexport",
            "object_id": rec["id"], "player_id": (rec["filters"] or {}).get("player_id"),
            "actor_id": rec["requested_by_id"], "actor": rec["requested_by__username"],
            "action": f"audit_export:{rec['format']}", "amount": rec["row_count"],
            "reference": json.dumps(rec["filters"], sort_keys=True),
            "reason": rec["reason"], "entry_hash": rec["sha256"],
        })


def audit_rows(filters: AuditFilters, *, chunk_size: int | None = None,
               using: str = "default") -> Iterator[dict]:
    """Yield the audit trail matching `filters`, oldest first, from database `using` (run
    it inside a transaction there: see export_stream)."""
    chunk_size = chunk_size or settings.BACKOFFICE_EXPORT_CHUNK_SIZE
    streams: list[Iterable[tuple]] = [_ledger_rows(filters, chunk_size, using)]
    sources = historical_sources()
    for i, (model, history, player_field, status_field) in enumerate(sources):
        streams.append(_history_rows(i, model, history, player_field, status_field, filters,
                                     chunk_size, using))
    streams.append(_export_rows(filters, chunk_size, len(sources) + 1, using))
    for _, _, _, row in heapq.merge(*streams, key=lambda item: item[:3]):
        yield row


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def encode_rows(rows: Iterable[dict], fmt: str) -> Iterator[tuple[bytes, int]]:
    """Encode rows as CSV (with a header) or JSON Lines; yield (bytes, rows in them) blocks."""
    buffer = io.StringIO()
    count = 0
    if fmt == "csv":
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in COLUMNS])
            count += 1
            if buffer.tell() >= FLUSH_BYTES:
                yield buffer.getvalue().encode(), count
                buffer.seek(0)
                buffer.truncate()
                count = 0
    elif fmt == "jsonl":
        for row in rows:
            record = {c: row.get(c) for c in COLUMNS}
            record["at"] = _cell(record["at"])
            buffer.write(json.dumps(record, separators=(",", ":"), default=str))
            buffer.write("\n")
            count += 1
            if buffer.tell() >= FLUSH_BYTES:
                yield buffer.getvalue().encode(), count
                buffer.seek(0)
                buffer.truncate()
                count = 0
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    if buffer.tell():
        yield buffer.getvalue().encode(), count


def export_stream(*, export: AuditExport, filters: AuditFilters,
                  chunk_size: int | None = None, progress=None) -> Iterator[bytes]:
    """Yield the export's bytes; at the end record row count, size and SHA-256 on `export`.

    `progress`, if given, is called with the number of rows in each block written.
    """
    digest = hashlib.sha256()
    rows = size = 0
    # Nested in an outer transaction on the primary (a test), that snapshot rules instead.
    db = "default" if connections["default"].in_atomic_block \
        else router.db_for_read(Entry, purpose="audit_export")
    conn = connections[db]
    outermost = not conn.in_atomic_block
    with transaction.atomic(using=db):
        if outermost:
            # One snapshot for the whole export; read-only, so it can never write by mistake.
            with conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        rows_in = audit_rows(filters, chunk_size=chunk_size, using=db)
        for block, n in encode_rows(rows_in, export.format):
            digest.update(block)
            rows += n
            size += len(block)
            if progress is not None:
                progress(n)
            yield block
    audit_export_finish(export_id=export.pk, row_count=rows, byte_count=size,
                        sha256=digest.hexdigest(), now=timezone.now())
