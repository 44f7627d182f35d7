import sys
from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from backoffice.audit import AuditFilters, export_stream
from backoffice.services import audit_export_start
from common.numbers import ascii_int
from users.models import User


def _when(raw: str | None) -> datetime | None:
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None:
        day = parse_date(raw)
        if day is None:
            raise CommandError(f"not a date or datetime: {raw!r}")
        value = datetime.combine(day, time.min)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


class Command(BaseCommand):
    help = ("Export the audit trail (ledger entries, state changes, staff decisions) for a "
            "player and/or a period as CSV or JSON Lines, streamed; the export is recorded "
            "with its SHA-256.")

    def add_arguments(self, parser):
        parser.add_argument("--player", help="player id or username")
        parser.add_argument("--since", help="ISO date/datetime, inclusive (UTC if naive)")
        parser.add_argument("--until", help="ISO date/datetime, exclusive (UTC if naive)")
        parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
        parser.add_argument("--output", "-o", help="file path (default: stdout)")
        parser.add_argument("--actor", help="username of the staff member running the export")
        parser.add_argument("--reason", default="", help="why the export is made (recorded)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        player_id = None
        if opts["player"]:
            raw = opts["player"]
            pk = ascii_int(raw)
            player = User.objects.filter(pk=pk).first() if pk is not None else \
                User.objects.filter(username=raw).first()
            if player is None:
                raise CommandError(f"no such player: {raw}")
            player_id = player.pk
        actor = None
        if opts["actor"]:
            actor = User.objects.filter(username=opts["actor"], is_staff=True).first()
            if actor is None:
                raise CommandError(f"no such staff member: {opts['actor']}")
        filters = AuditFilters(player_id=player_id, since=_when(opts["since"]),
                               until=_when(opts["until"]))
        export = audit_export_start(actor=actor, fmt=opts["format"], filters=filters.as_dict(),
                                    channel="command", reason=opts["reason"], now=timezone.now())
        out = open(opts["output"], "wb") if opts["output"] else sys.stdout.buffer
        bar = tqdm(unit=" rows", disable=opts["no_progress"], file=sys.stderr)
        try:
            for block in export_stream(export=export, filters=filters, progress=bar.update):
                out.write(block)
        finally:
            bar.close()
            if opts["output"]:
                out.close()
            else:
                out.flush()
        export.refresh_from_db()
        self.stderr.write(f"export #{export.pk}: {export.row_count} rows, "
                          f"sha256 {export.sha256}")
